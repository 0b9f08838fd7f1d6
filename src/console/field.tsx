/** @module A labelled form field of the console, with its hint and error (every form uses it). */
import type { Child } from "hono/jsx";

/** Error messages by field name. */
export type FieldErrors = Record<string, string>;

/** A labelled input with its hint and error, wired through aria-describedby / aria-invalid. */
export function Field(props: {
  id: string;
  label: string;
  hint?: string;
  errors: FieldErrors;
  children: (attrs: Record<string, string | undefined>) => Child;
}) {
  const error = props.errors[props.id];
  const ids = [props.hint ? `${props.id}-hint` : "", error ? `${props.id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div>
      <label for={props.id}>
        {props.label}
        {props.hint ? (
          <span class="hint" id={`${props.id}-hint`}>
            {props.hint}
          </span>
        ) : null}
      </label>
      {props.children({ id: props.id, name: props.id, "aria-describedby": ids || undefined, "aria-invalid": error ? "true" : undefined })}
      {error ? (
        <p class="field-error" id={`${props.id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
