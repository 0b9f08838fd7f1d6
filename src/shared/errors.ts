/** @module The management API's error type and JSON error body. */
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The one error type of the management API. `message` is safe to show to the client;
 * anything internal goes to `detail`, which is only logged.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly detail?: unknown,
    /** The request field at fault, for 400s. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code = "invalid_request") => new ApiError(400, code, message);
/** A 400 naming the field at fault: `{ error: { code: "invalid_field", message: "url: must use https", field: "url" } }`. */
export const invalidField = (field: string, problem: string) => new ApiError(400, "invalid_field", `${field}: ${problem}`, undefined, field);
export const unauthorized = (message = "A valid bearer token is required.") => new ApiError(401, "unauthorized", message);
export const forbidden = (message = "This token may not do that.") => new ApiError(403, "forbidden", message);
export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found.`);
export const conflict = (message: string) => new ApiError(409, "conflict", message);

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field ? { code, message, field } : { code, message } };
}
