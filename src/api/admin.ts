/** @module Admin-only routes of the management API: seeding the demo. */
import { z } from "zod";
import { DEMO_HANDLE, DEMO_SLUG, seedDemo } from "../accounts/demo-seed";
import { invalidatePresets } from "../edge/preset-stub";
import { invalidField } from "../shared/errors";
import { publicUrl } from "../shared/public-url";
import { checkUpstreamUrl } from "../shared/url-guard";
import { presetUrl, userJson } from "./json-views";
import { defineRoute } from "./route";
import { DemoSeedBody, User } from "./schemas";

export const adminRoutes = [
  defineRoute({
    method: "post",
    path: "/admin/demo",
    tag: "Admin",
    summary: "Seed the demo user and the public preset demo/starter (what `npm run dev` does); idempotent",
    auth: "admin",
    body: DemoSeedBody,
    responses: {
      200: {
        description: "Seeded",
        schema: z.object({
          user: User,
          preset: z.object({ url: z.string() }),
          created: z.boolean(),
          token: z.string().optional().describe("The demo user's API token, only when this call created the user."),
        }),
      },
    },
    async handler(c, { body }) {
      const check = checkUpstreamUrl(body.upstreamUrl, { allowInsecure: c.env.ALLOW_INSECURE_UPSTREAMS === "true" });
      if (!check.ok) throw invalidField("upstreamUrl", check.reason);
      const { user, created, token } = await seedDemo(c.env.DB, check.url.toString());
      await invalidatePresets(c.env, DEMO_HANDLE, [DEMO_SLUG]);
      const url = presetUrl(publicUrl(c), DEMO_HANDLE, DEMO_SLUG);
      return c.json({ user: userJson(user), preset: { url }, created, ...(token ? { token } : {}) });
    },
  }),
];
