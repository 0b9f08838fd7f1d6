/**
 * @module What the console's page modules share with routes.tsx without importing it (no cycles):
 * the console's Hono env, the helpers routes.tsx hands them, the labelled form field, and the
 * mapping from zod issues and API errors to messages next to fields.
 */
import type { Context, Hono } from "hono";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { z } from "zod";
import type { AppEnv } from "../edge/app-env";
import { ApiError } from "../shared/errors";
import type { FieldErrors } from "./field";
import type { SignedIn } from "./pages";
import type { ConsoleSession } from "./session-store";

export type ConsoleEnv = AppEnv & { Variables: AppEnv["Variables"] & { session: ConsoleSession; handle: string } };
export type ConsoleContext = Context<ConsoleEnv>;
export type ConsolePages = Hono<ConsoleEnv>;
export type PageStatus = 200 | 400 | 403 | 404 | 409 | 413 | 502 | 504;

/** The helpers routes.tsx owns and lends to the page modules it mounts. */
export interface ConsoleKit {
  render(c: ConsoleContext, page: JSX.Element, status?: PageStatus): Response;
  /** The POST's form fields (already checked for origin, size and CSRF token by the middleware). */
  form(c: ConsoleContext): Promise<Record<string, string>>;
  signedIn(c: ConsoleContext): SignedIn;
  /** The context as the API's code takes it (same request, bindings and userId). */
  asApp(c: ConsoleContext): Context<AppEnv>;
}

/** The first message per top-level field of a failed zod parse; `fieldOf` may rename fields. */
export function issuesToErrors(error: z.ZodError, fieldOf: (path: PropertyKey[]) => string = (p) => String(p[0] ?? "form")): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of error.issues) errors[fieldOf(issue.path)] ??= issue.message;
  return errors;
}

/**
 * The field errors for an API error the form can explain (400 naming a field, 409), or undefined
 * for anything else, which the caller rethrows. `invalidField` messages start with the field name.
 */
export function apiErrorToErrors(e: unknown, fallbackField = "form"): { errors: FieldErrors; status: 400 | 409 } | undefined {
  if (!(e instanceof ApiError) || (e.status !== 400 && e.status !== 409)) return undefined;
  const field = e.field ? e.field.split(".")[0] || fallbackField : fallbackField;
  const message = e.field && e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
  return { errors: { [field]: message }, status: e.status };
}

/** The alert above a form whose fields were refused: the form-level error, or a pointer to the fields. */
export function FormAlert(props: { errors: FieldErrors; what: string }) {
  const keys = Object.keys(props.errors);
  if (keys.length === 0) return null;
  return (
    <p class="alert" role="alert">
      {props.errors.form ?? `${props.what}: fix the fields marked below.`}
    </p>
  );
}

/** The hidden CSRF field every console form carries. */
export function Csrf(props: { user: SignedIn }) {
  return <input type="hidden" name="csrf" value={props.user.csrf} />;
}
