/** @module The OpenAPI 3 document, generated from the route table and its zod schemas. */
import { z } from "zod";
import { GATEWAY_VERSION } from "../shared/version";
import type { AnyRoute } from "./route";
import { ErrorResponse } from "./schemas";

const schemaOf = (s: z.ZodType, io: "input" | "output") => z.toJSONSchema(s, { target: "openapi-3.0", io, unrepresentable: "any" });

const ERROR_RESPONSES = {
  400: "Invalid input; `error.field` names the field",
  401: "Missing or invalid bearer token",
  403: "The token may not do this",
  413: "Body too large",
  415: "Body is not application/json",
} as const;

/** Builds the OpenAPI 3 document from the same route table the API serves. */
export function buildOpenApi(routes: readonly AnyRoute[], serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = `/api/v1${r.path.replace(/:([A-Za-z]+)/g, "{$1}")}`;
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ["path", r.params],
      ["query", r.query],
    ] as const) {
      if (!(schema instanceof z.ZodObject)) continue;
      for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
        parameters.push({ name, in: where, required: where === "path" || !field.safeParse(undefined).success, schema: schemaOf(field, "input") });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      const schema = res.schema ?? (Number(status) >= 400 ? ErrorResponse : undefined);
      responses[status] = schema
        ? { description: res.description, content: { "application/json": { schema: schemaOf(schema, "output") } } }
        : { description: res.description };
    }
    const errors: Record<string, string> = { ...ERROR_RESPONSES };
    if (r.params) errors[404] = "No such resource of yours";
    for (const [status, description] of Object.entries(errors)) {
      if ((status === "413" || status === "415") && !r.body) continue;
      responses[status] ??= { description, content: { "application/json": { schema: schemaOf(ErrorResponse, "output") } } };
    }
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      tags: [r.tag],
      security: [{ [r.auth === "admin" ? "adminToken" : "apiToken"]: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(r.body, "input") } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.0.3",
    info: { title: "mcpgate management API", version: GATEWAY_VERSION },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: {
        apiToken: { type: "http", scheme: "bearer", description: "A user's API token (mcpg_...)." },
        adminToken: { type: "http", scheme: "bearer", description: "The ADMIN_TOKEN secret." },
      },
    },
    paths,
  };
}
