/**
 * @module Tasks (2025-11-25 `tasks`) through a preset. A tools/call with `params.task` starts a task
 * on the upstream; the client gets the task under an id of the gateway's (`task_` + 32 random
 * characters), bound to the caller that started it (principal and caller key), so the upstream's
 * ids never reach clients and nobody else may read, wait on, or cancel it. `tasks/get`,
 * `tasks/result` and `tasks/cancel` are routed to the upstream that owns the task with its own id,
 * and the answers carry the gateway's id back; `tasks/list` lists only the caller's tasks (those
 * not finished are asked for their status). Routes live in the preset's Durable Object's memory,
 * bounded per caller and per preset, and are dropped when the task's `ttl` (at most a day) runs
 * out; an object restart forgets them (the client then gets -32602 for the id).
 */
import { exposeResultUris } from "../items/item-selection";
import { isJsonObject, RpcCode, type RpcRequest, rpcErrorBody, rpcResultBody } from "../mcp/jsonrpc";
import type { PresetConfig, PresetServer } from "../preset/config";
import { randomToken } from "../shared/ids";
import { UpstreamFailure, UpstreamRpcError } from "../upstream/client";
import type { UpstreamPool } from "../upstream/pool";
import { GATEWAY_CALLER, type UpstreamCaller } from "../upstream/session-scope";

/** Tasks one caller may hold through a preset, and the preset in all; past them a new task is cancelled upstream and refused. */
export const TASKS_PER_CALLER = 100;
export const TASKS_PER_PRESET = 2_000;
/** A route is kept for its task's ttl, this long when it has none, and never longer than a day. */
const DEFAULT_TASK_MS = 60 * 60_000;
const MAX_TASK_MS = 24 * 60 * 60_000;
/** How long tasks/result may wait for a task to finish. */
const RESULT_WAIT_MS = 15 * 60_000;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const RELATED_TASK = "io.modelcontextprotocol/related-task";

interface TaskRoute {
  server: string;
  upstreamId: string;
  owner: string;
  /** Whose upstream session the task runs on: its requests go there (kept open past a modern request that started it). */
  caller: UpstreamCaller;
  /** The task as last seen, under the gateway's id. */
  task: Record<string, unknown>;
  expiresAt: number;
}

/** A 2025-11-25 task as the 2026-07-28 tasks extension shapes it (ttlMs, pollIntervalMs). */
function modernTask(task: Record<string, unknown>): Record<string, unknown> {
  const { ttl, pollInterval, ...rest } = task;
  return { ...rest, ttlMs: typeof ttl === "number" ? ttl : null, ...(typeof pollInterval === "number" ? { pollIntervalMs: pollInterval } : {}) };
}

/** The extension's capability key (2026-07-28 tasks). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** Whether an upstream's capabilities let clients augment tools/call with a task. */
export const offersToolTasks = (capabilities: Record<string, unknown> | undefined): boolean => {
  const tasks = capabilities?.tasks;
  return isJsonObject(tasks) && isJsonObject(tasks.requests) && isJsonObject(tasks.requests.tools) && isJsonObject(tasks.requests.tools.call);
};

export class TaskRoutes {
  readonly #pool: UpstreamPool;
  readonly #routes = new Map<string, TaskRoute>();

  constructor(pool: UpstreamPool) {
    this.#pool = pool;
  }

  /**
   * A tools/call result from `server`: a CreateTaskResult gets the gateway's id for its task,
   * bound to `owner`; anything else is returned as it is. A caller or preset over its bound gets
   * an error result instead (and the task is cancelled upstream).
   */
  adopt(
    server: PresetServer,
    owner: string,
    result: Record<string, unknown>,
    modern = false,
    caller: UpstreamCaller = GATEWAY_CALLER,
  ): Record<string, unknown> | UpstreamRpcError {
    const task = result.task;
    if (!isJsonObject(task) || typeof task.taskId !== "string") return result;
    this.#sweep(Date.now());
    let mine = 0;
    for (const r of this.#routes.values()) if (r.owner === owner) mine++;
    if (mine >= TASKS_PER_CALLER || this.#routes.size >= TASKS_PER_PRESET) {
      this.#pool.request(server, "tasks/cancel", { taskId: task.taskId }, server.timeoutMs, undefined, { caller }).catch(() => {});
      return new UpstreamRpcError(
        RpcCode.InvalidRequest,
        `Too many tasks: a caller may hold ${TASKS_PER_CALLER} tasks on a preset at once; let some finish first.`,
      );
    }
    const id = `task_${randomToken(32)}`;
    const ttl = typeof task.ttl === "number" && task.ttl > 0 ? Math.min(task.ttl, MAX_TASK_MS) : DEFAULT_TASK_MS;
    const exposed = { ...task, taskId: id };
    const { ephemeral: _, ...runsOn } = caller;
    this.#routes.set(id, { server: server.name, upstreamId: task.taskId, owner, caller: runsOn, task: exposed, expiresAt: Date.now() + ttl });
    // The tasks extension of 2026-07-28: the task itself is the result, marked resultType "task".
    return modern ? { resultType: "task", ...modernTask(exposed) } : { ...result, task: exposed };
  }

  /**
   * tasks/get, tasks/result, tasks/cancel, tasks/list of `owner`, as serialized replies; with
   * `modern`, the tasks extension's tasks/get (the result or error inlined once the task ended),
   * tasks/update and tasks/cancel (empty acknowledgements).
   */
  async answer(config: PresetConfig, owner: string, req: RpcRequest, modern = false): Promise<string> {
    this.#sweep(Date.now());
    if (req.method === "tasks/list") return this.#list(config, owner, req);
    const id = req.params?.taskId;
    const route = typeof id === "string" ? this.#routes.get(id) : undefined;
    // Someone else's task is answered exactly like one that does not exist.
    if (!route || route.owner !== owner) return rpcErrorBody(req.id, RpcCode.InvalidParams, "params.taskId names no task of yours on this preset.");
    const server = config.servers.find((s) => s.name === route.server);
    if (!server) return rpcErrorBody(req.id, RpcCode.InvalidParams, "The server that ran this task is no longer part of the preset.");
    try {
      if (modern) return rpcResultBody(req.id, await this.#modern(server, id as string, route, req.method));
      const timeout = req.method === "tasks/result" ? RESULT_WAIT_MS : server.timeoutMs;
      const result = await this.#pool.request(server, req.method, { ...req.params, taskId: route.upstreamId }, timeout, undefined, { caller: route.caller });
      const exposed = this.#exposed(id as string, route, req.method, result);
      // tasks/result is the tools/call's result: its resource URIs as tools/call shows them (tool-call.ts).
      return rpcResultBody(req.id, req.method === "tasks/result" ? exposeResultUris(server, exposed) : exposed);
    } catch (e) {
      if (e instanceof UpstreamRpcError) return rpcErrorBody(req.id, e.code, e.message, e.data);
      if (e instanceof UpstreamFailure) return rpcErrorBody(req.id, RpcCode.UpstreamUnavailable, e.message, { upstream: e.upstream, reason: e.kind });
      throw e;
    }
  }

  /** A modern client's tasks/get (with the result or error once the task ended), tasks/update or tasks/cancel. */
  async #modern(server: PresetServer, id: string, route: TaskRoute, method: string): Promise<Record<string, unknown>> {
    const upstream = { taskId: route.upstreamId };
    const on = { caller: route.caller };
    // No input is ever asked of a modern client through a task (the upstream's task input is not carried): nothing is outstanding.
    if (method === "tasks/update") return { resultType: "complete" };
    if (method === "tasks/cancel") {
      this.#exposed(id, route, "tasks/cancel", await this.#pool.request(server, "tasks/cancel", upstream, server.timeoutMs, undefined, on));
      return { resultType: "complete" };
    }
    const task = this.#exposed(id, route, "tasks/get", await this.#pool.request(server, "tasks/get", upstream, server.timeoutMs, undefined, on));
    const detailed: Record<string, unknown> = { resultType: "complete", ...modernTask(task) };
    if (task.status === "completed") {
      const { _meta, ...result } = await this.#pool.request(server, "tasks/result", upstream, server.timeoutMs, undefined, on);
      detailed.result = exposeResultUris(server, result);
    } else if (task.status === "failed") {
      detailed.error = await this.#pool.request(server, "tasks/result", upstream, server.timeoutMs, undefined, on).then(
        () => ({ code: RpcCode.InternalError, message: "The task failed." }),
        (e: unknown) =>
          e instanceof UpstreamRpcError
            ? { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) }
            : { code: RpcCode.InternalError, message: "The task failed." },
      );
    }
    return detailed;
  }

  /** The caller's tasks; those not finished are asked for their status first. */
  async #list(config: PresetConfig, owner: string, req: RpcRequest): Promise<string> {
    const mine = [...this.#routes].filter(([, r]) => r.owner === owner);
    await Promise.all(
      mine
        .filter(([, r]) => !TERMINAL.has(r.task.status as string))
        .map(async ([id, route]) => {
          const server = config.servers.find((s) => s.name === route.server);
          if (!server) return;
          const task = await this.#pool
            .request(server, "tasks/get", { taskId: route.upstreamId }, server.timeoutMs, undefined, { caller: route.caller })
            .catch(() => null);
          if (task) this.#exposed(id, route, "tasks/get", task);
        }),
    );
    return rpcResultBody(req.id, { tasks: mine.map(([, r]) => r.task) });
  }

  /** An upstream's answer with the gateway's task id in place of its own (and the route's last known task updated). */
  #exposed(id: string, route: TaskRoute, method: string, result: Record<string, unknown>): Record<string, unknown> {
    if (method === "tasks/result") {
      const meta = isJsonObject(result._meta) ? result._meta : undefined;
      if (!meta || !isJsonObject(meta[RELATED_TASK])) return result;
      return { ...result, _meta: { ...meta, [RELATED_TASK]: { ...meta[RELATED_TASK], taskId: id } } };
    }
    if (typeof result.taskId !== "string") return result;
    route.task = { ...result, taskId: id };
    return route.task;
  }

  #sweep(now: number): void {
    for (const [id, route] of this.#routes) if (route.expiresAt <= now) this.#routes.delete(id);
  }
}
