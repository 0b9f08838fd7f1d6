/**
 * @module Request validation of the management API: JSON bodies (bounded, strict) and params, with
 * errors naming the field.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError, badRequest, invalidField } from "../shared/errors";
import { jsonNestsDeeper, MAX_JSON_DEPTH } from "../shared/json-depth";
import { readLimitedText } from "../shared/read-limited";

/** Management API bodies are small; anything bigger is refused before parsing. */
export const API_BODY_LIMIT = 64 * 1024;

/** The value at `path` inside `input`, or undefined where the path does not exist. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * For a value no option of a union took: the issue of the one option that failed inside the value
 * (at an object's field) rather than at it, with its full path; else the union's own issue.
 */
function meantOption(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== "invalid_union") return issue;
  const inside = issue.errors.filter((issues) => issues.some((i) => i.path.length > 0));
  const first = inside.length === 1 ? inside[0]![0] : undefined;
  return first ? { ...first, path: [...issue.path, ...first.path] } : issue;
}

/** "visibility: is required" or "handle: must be at least 3 characters", from zod's first issue. */
export function describeIssue(error: z.ZodError, where: string, input?: unknown): ApiError {
  const issue = error.issues[0] && meantOption(error.issues[0]);
  if (!issue) return badRequest(`Invalid ${where}.`);
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.join(", ");
    const field = path ? `${path}.${issue.keys[0]}` : String(issue.keys[0]);
    return new ApiError(400, "unknown_field", `Unknown field${issue.keys.length > 1 ? "s" : ""}: ${keys}.`, undefined, field);
  }
  let message = issue.message;
  if (issue.code === "invalid_key") {
    // A record key failed its schema: report the key and the key schema's own message.
    return invalidField(path || where, issue.issues[0]?.message ?? "is not an allowed key");
  }
  if (input !== undefined && issue.path.length > 0 && valueAt(input, issue.path) === undefined) message = "is required";
  else if (issue.code === "invalid_type") message = `must be ${issue.expected === "int" ? "an integer" : `a ${issue.expected}`}`;
  else if (issue.code === "invalid_value") message = `must be one of ${issue.values.map((v) => String(v)).join(", ")}`;
  return invalidField(path || where, message);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw describeIssue(result.error, where, value);
  return result.data;
}

/** Content-Type check, size cap, JSON parse and schema validation of a JSON body, in that order. */
export async function readJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "Send the body as Content-Type: application/json.");
  }
  const text = await readLimitedText(c.req.raw, API_BODY_LIMIT, "leave");
  if (text === null) throw new ApiError(413, "body_too_large", `The body exceeds ${API_BODY_LIMIT} bytes.`);
  if (jsonNestsDeeper(text)) throw badRequest(`The body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`, "too_deep");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw badRequest("The body is not valid JSON.", "invalid_json");
  }
  return parseWith(schema, json, "body");
}
