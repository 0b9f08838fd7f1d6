import { expect } from "vitest";
import type { ApiResult } from "../helpers";

/** Asserts an API error response: its status, stable `code`, and (for 400s) the field at fault. */
export function expectError(res: ApiResult, status: number, code: string, field?: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(typeof res.body.error.message).toBe("string");
  if (field !== undefined) {
    expect(res.body.error.field).toBe(field);
    expect(res.body.error.message).toContain(field);
  }
}

/** A 400 `invalid_field` naming `field` in both `error.field` and `error.message`. */
export function expectInvalid(res: ApiResult, field: string): void {
  expectError(res, 400, "invalid_field", field);
}
