/**
 * @module One declaration per API route: the same zod schemas validate requests in `mountRoutes` and
 * describe them in the OpenAPI document (api/openapi.ts), so the two cannot drift apart.
 */
import type { Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "../edge/app-env";

export type Method = "get" | "post" | "put" | "patch" | "delete";

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** Hono path relative to /api/v1, e.g. `/presets/:slug`. */
  path: string;
  summary: string;
  tag: string;
  /** `admin`: only ADMIN_TOKEN; `user`: any user's API token. */
  auth: "admin" | "user";
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handler: (c: Context<AppEnv>, input: RouteInput<P, Q, B>) => Promise<Response> | Response;
}

/** Identity function that gives `handler` the types of its schemas. */
export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return spec;
}

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous list of routes
export type AnyRoute = RouteSpec<any, any, any>;
