/**
 * @module The console's import and fork pages: a preset from an exported document (pasted), and a
 * copy of another user's public preset into your account, through the API's importPreset and
 * forkPreset (same validation, events and invalidation as POST /presets/import and /presets/fork).
 *
 * Routes (under /console): GET|POST /import (a pasted document or an uploaded .json file; the one
 * multipart form of the console); GET|POST /fork?from=<handle>/<slug>.
 */
import { forkPreset, importPreset } from "../api/preset-transfer";
import { ForkBody, ImportBody } from "../api/transfer-schemas";
import { ApiError } from "../shared/errors";
import { apiErrorToErrors, type ConsoleContext, type ConsoleKit, type ConsolePages, Csrf, FormAlert, issuesToErrors } from "./console-kit";
import { Field, type FieldErrors } from "./field";
import { Layout } from "./layout";
import { Select, VISIBILITIES } from "./manage-preset";
import { MessagePage, type SignedIn } from "./pages";

type Values = Record<string, string>;

/** The largest import form (and so file) accepted; the middleware checks content-length, the page the file itself. */
export const MAX_IMPORT_FORM_BYTES = 256 * 1024;

function ImportPage(props: { user: SignedIn; values: Values; errors: FieldErrors }) {
  return (
    <Layout title="Import a preset" user={props.user}>
      <h1>Import a preset</h1>
      <form class="stack" method="post" action="/console/import" enctype="multipart/form-data" novalidate>
        <Csrf user={props.user} />
        <FormAlert errors={props.errors} what="Nothing was imported" />
        <Field id="document" label="Document" hint="Paste an exported preset document (JSON), or choose its file below." errors={props.errors}>
          {(a) => (
            <textarea {...a} rows={12} spellcheck={false}>
              {props.values.document}
            </textarea>
          )}
        </Field>
        <Field
          id="file"
          label="Document file"
          hint={`An exported .json file, up to ${MAX_IMPORT_FORM_BYTES / 1024} KB; used instead of the text above. Larger documents: POST /api/v1/presets/import.`}
          errors={props.errors}
        >
          {(a) => <input {...a} type="file" accept=".json,application/json" />}
        </Field>
        <Field id="slug" label="Slug" hint="Blank: the document's slug." errors={props.errors}>
          {(a) => <input {...a} type="text" value={props.values.slug} autocomplete="off" spellcheck={false} />}
        </Field>
        <Field id="visibility" label="Visibility" errors={props.errors}>
          {(a) => <Select attrs={a} value={props.values.visibility ?? "private"} options={VISIBILITIES} />}
        </Field>
        <div>
          <button type="submit" class="primary">
            Import preset
          </button>
        </div>
      </form>
    </Layout>
  );
}

function ForkPage(props: { user: SignedIn; values: Values; errors: FieldErrors }) {
  return (
    <Layout title="Fork a preset" user={props.user}>
      <h1>{`Fork ${props.values.from} into your account`}</h1>
      <p>The copy runs on your own servers (reused by URL, or registered without secrets); it never follows later changes of the original.</p>
      <form class="stack" method="post" action="/console/fork" novalidate>
        <Csrf user={props.user} />
        <input type="hidden" name="from" value={props.values.from} />
        <FormAlert errors={props.errors} what="The preset was not forked" />
        <Field id="slug" label="Slug of your copy" hint="Blank: the original's slug." errors={props.errors}>
          {(a) => <input {...a} type="text" value={props.values.slug} autocomplete="off" spellcheck={false} />}
        </Field>
        <Field id="visibility" label="Visibility" errors={props.errors}>
          {(a) => <Select attrs={a} value={props.values.visibility ?? "private"} options={VISIBILITIES} />}
        </Field>
        <div>
          <button type="submit" class="primary">
            Fork into my account
          </button>
        </div>
      </form>
    </Layout>
  );
}

const optional = (v: string | undefined) => (v && v.trim() !== "" ? v.trim() : undefined);

/** Registers the import and fork pages on the console's authenticated pages app. */
export function mountTransferPages(pages: ConsolePages, kit: ConsoleKit): void {
  const notFoundPage = (c: ConsoleContext, what: string) => kit.render(c, <MessagePage title="Not found" message={what} user={kit.signedIn(c)} />, 404);
  pages.get("/import", (c) => kit.render(c, <ImportPage user={kit.signedIn(c)} values={{ document: "", slug: "", visibility: "private" }} errors={{}} />));
  pages.post("/import", async (c) => {
    const body = await kit.form(c);
    const values = { document: body.document ?? "", slug: body.slug ?? "", visibility: body.visibility ?? "private" };
    const again = (errors: FieldErrors, status: 400 | 409 | 413) =>
      kit.render(c, <ImportPage user={kit.signedIn(c)} values={values} errors={errors} />, status);
    const file = (await c.req.parseBody()).file;
    const uploaded = file instanceof File && file.size > 0 ? file : undefined;
    if (uploaded && uploaded.size > MAX_IMPORT_FORM_BYTES) return again({ file: `is too large: at most ${MAX_IMPORT_FORM_BYTES / 1024} KB` }, 413);
    const field = uploaded ? "file" : "document";
    let document: unknown;
    try {
      document = JSON.parse(uploaded ? await uploaded.text() : values.document);
    } catch {
      return again({ [field]: uploaded ? `'${uploaded.name.slice(0, 100)}' is not a JSON document` : "is not valid JSON" }, 400);
    }
    const parsed = ImportBody.safeParse({ document, slug: optional(values.slug), visibility: values.visibility });
    if (!parsed.success)
      return again(
        issuesToErrors(parsed.error, (p) => (p[0] === "document" ? field : String(p[0] ?? "form"))),
        400,
      );
    let slug: string;
    try {
      slug = (await importPreset(kit.asApp(c), parsed.data)).preset.slug;
    } catch (e) {
      const explained = apiErrorToErrors(e, "slug");
      if (!explained) throw e;
      return again({ [explained.errors.slug !== undefined ? "slug" : field]: Object.values(explained.errors)[0] ?? "" }, explained.status);
    }
    return c.redirect(`/console/presets/${slug}?created=1`, 303);
  });
  pages.get("/fork", (c) => {
    const from = c.req.query("from") ?? "";
    if (!ForkBody.shape.from.safeParse(from).success) return notFoundPage(c, "Fork needs ?from=<handle>/<slug>.");
    return kit.render(c, <ForkPage user={kit.signedIn(c)} values={{ from, slug: "", visibility: "private" }} errors={{}} />);
  });
  pages.post("/fork", async (c) => {
    const body = await kit.form(c);
    const values = { from: body.from ?? "", slug: body.slug ?? "", visibility: body.visibility ?? "private" };
    const parsed = ForkBody.safeParse({ from: values.from, slug: optional(values.slug), visibility: values.visibility });
    if (!parsed.success) return kit.render(c, <ForkPage user={kit.signedIn(c)} values={values} errors={issuesToErrors(parsed.error)} />, 400);
    let slug: string;
    try {
      slug = (await forkPreset(kit.asApp(c), parsed.data)).preset.slug;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return notFoundPage(c, e.message);
      const explained = apiErrorToErrors(e, "slug");
      if (!explained) throw e;
      return kit.render(c, <ForkPage user={kit.signedIn(c)} values={values} errors={{ slug: Object.values(explained.errors)[0] ?? "" }} />, explained.status);
    }
    return c.redirect(`/console/presets/${slug}?created=1`, 303);
  });
}
