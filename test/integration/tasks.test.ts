import { describe, expect, it, vi } from "vitest";
import { createUser, EVENTUALLY, givenPreset, unique, upstreamStats, upstreamUrl } from "../helpers";
import { INIT, mcpPost, modernHeaders, modernMessage, openSession, rpc } from "../mcp-raw";

/**
 * Tasks (2025-11-25) through a preset: a task-only tool of the `asker` upstream runs as a task the
 * client reaches under the gateway's own id, bound to the caller that started it.
 */

const preset = async (owner?: Awaited<ReturnType<typeof createUser>>) => {
  const scope = unique("tasks");
  const p = await givenPreset({ owner, naming: "plain", servers: [{ name: "asker", url: upstreamUrl("asker", scope), tools: null }] });
  return { ...p, scope };
};

const research = (topic: string, ms = 100) => ({ name: "research", arguments: { topic, ms }, task: { ttl: 60_000 } });

describe("tasks through a preset", () => {
  it("declares tasks, lists the task-only tool, and carries a task from start to result under an id of its own", async () => {
    const p = await preset();
    const session = await openSession(p.url);
    const init = await rpc(session, 1, "tools/list");
    expect(init.result.tools.find((t: { name: string }) => t.name === "research").execution).toEqual({ taskSupport: "required" });

    const started = await rpc(session, 2, "tools/call", research("tides"));
    const task = started.result.task;
    expect(task).toMatchObject({ status: "working", ttl: 60_000 });
    expect(task.taskId).toMatch(/^task_[a-z0-9]{32}$/);

    const done = await vi.waitFor(async () => {
      const got = await rpc(session, 3, "tasks/get", { taskId: task.taskId });
      expect(got.result.status).toBe("completed");
      return got.result;
    }, EVENTUALLY);
    expect(done.taskId).toBe(task.taskId);
    const result = await rpc(session, 4, "tasks/result", { taskId: task.taskId });
    expect(result.result.content).toEqual([{ type: "text", text: "researched tides" }]);
    expect(result.result._meta["io.modelcontextprotocol/related-task"]).toEqual({ taskId: task.taskId });
    const listed = await rpc(session, 5, "tasks/list");
    expect(listed.result.tasks.map((t: { taskId: string; status: string }) => [t.taskId, t.status])).toEqual([[task.taskId, "completed"]]);
  });

  it("declares the tasks capability at initialize only when an upstream offers task-augmented tools/call", async () => {
    const p = await preset();
    const res = await mcpPost(p.url, INIT(1));
    expect(res.json.result.capabilities.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const plain = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const other = await mcpPost(plain.url, INIT(1));
    expect(other.json.result.capabilities.tasks).toBeUndefined();
  });

  it("lets nobody else read, wait on, cancel or list a caller's task, and never shows the upstream's id", async () => {
    const owner = await createUser();
    const other = await createUser();
    const p = await preset(owner);
    const mine = await openSession(p.url, { token: owner.token });
    const theirs = await openSession(p.url, { token: other.token });
    const anonymous = await openSession(p.url);
    const { task } = (await rpc(mine, 1, "tools/call", research("secrets", 10_000))).result;
    for (const session of [theirs, anonymous]) {
      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
        const refused = await rpc(session, 2, method, { taskId: task.taskId });
        expect(refused.error, method).toMatchObject({ code: -32602 });
      }
      expect((await rpc(session, 3, "tasks/list")).result.tasks).toEqual([]);
    }
    // A made-up id, or the upstream's own id pattern, is unknown.
    expect((await rpc(mine, 4, "tasks/get", { taskId: "0123456789abcdef0123456789abcdef" })).error).toMatchObject({ code: -32602 });
    // Nobody cancelled it upstream on the strangers' behalf.
    expect((await upstreamStats("asker", p.scope)).requests["tasks/cancel"] ?? 0).toBe(0);
    const cancelled = await rpc(mine, 5, "tasks/cancel", { taskId: task.taskId });
    expect(cancelled.result).toMatchObject({ taskId: task.taskId });
    expect((await upstreamStats("asker", p.scope)).requests["tasks/cancel"]).toBe(1);
  });

  it("offers a modern client the tasks extension: a task-only tool answers with resultType task, tasks/get inlines the result", async () => {
    const p = await preset();
    const withTasks = { extensions: { "io.modelcontextprotocol/tasks": {} } };
    const discover = await modernPost(p.url, modernBody(1, "server/discover", {}, {}));
    expect(discover.json.result.capabilities.extensions).toEqual({ "io.modelcontextprotocol/tasks": {} });
    expect(discover.json.result.capabilities.tasks).toBeUndefined();

    const refused = await modernPost(p.url, modernBody(2, "tools/call", { name: "research", arguments: { topic: "moons", ms: 100 } }, {}));
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { "io.modelcontextprotocol/tasks": {} } } } });

    const started = await modernPost(p.url, modernBody(3, "tools/call", { name: "research", arguments: { topic: "moons", ms: 100 } }, withTasks));
    expect(started.json.result).toMatchObject({ resultType: "task", status: "working", ttlMs: 60_000, pollIntervalMs: 50 });
    const taskId: string = started.json.result.taskId;
    expect(taskId).toMatch(/^task_/);
    const done = await vi.waitFor(async () => {
      const got = await modernPost(p.url, modernBody(4, "tasks/get", { taskId }, withTasks));
      expect(got.json.result.status).toBe("completed");
      return got.json.result;
    }, EVENTUALLY);
    expect(done).toMatchObject({ resultType: "complete", taskId, result: { content: [{ type: "text", text: "researched moons" }] } });
    expect((await modernPost(p.url, modernBody(5, "tasks/update", { taskId, inputResponses: {} }, withTasks))).json.result).toEqual({ resultType: "complete" });
    // Another caller's poll is answered like an unknown task; the extension has no tasks/list.
    const stranger = await modernPost(p.url, modernBody(6, "tasks/get", { taskId }, withTasks), { "cf-connecting-ip": "203.0.113.77" });
    expect(stranger.json.error).toMatchObject({ code: -32602 });
    expect((await modernPost(p.url, modernBody(7, "tasks/list", {}, withTasks))).status).toBe(404);

    const slow = await modernPost(p.url, modernBody(8, "tools/call", { name: "research", arguments: { topic: "tides", ms: 10_000 } }, withTasks));
    const cancelled = await modernPost(p.url, modernBody(9, "tasks/cancel", { taskId: slow.json.result.taskId }, withTasks));
    expect(cancelled.json.result).toEqual({ resultType: "complete" });
    const after = await modernPost(p.url, modernBody(10, "tasks/get", { taskId: slow.json.result.taskId }, withTasks));
    expect(after.json.result.status).toBe("cancelled");
  });
});

const modernBody = (id: number, method: string, params: Record<string, unknown>, capabilities: Record<string, unknown>) =>
  modernMessage(id, method, params, { "io.modelcontextprotocol/clientCapabilities": capabilities });

const modernPost = (url: string, body: ReturnType<typeof modernBody>, headers: Record<string, string> = {}) =>
  mcpPost(url, body, { headers: modernHeaders(body, headers) });
