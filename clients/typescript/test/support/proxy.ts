/**
 * The real Headroom proxy for the tests: `headroom proxy --port 0 --stateless` in a child
 * process, its port read from the banner it prints, ready once `/livez` answers.
 *
 * The executable is `HEADROOM_PROXY_BIN` when set, else `headroom` on PATH (the venv that
 * .ci/run creates, or the one activated locally). Without it the tests that need the proxy are
 * skipped with the reason, except under CI (`CI` set), where a missing proxy is a failure.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

import { startForwarder } from "./http.js";

export interface RunningProxy {
  readonly url: string;
  readonly banner: string;
  stop(): Promise<void>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The proxy executable, or why there is none. */
export function findProxy(): { bin: string } | { missing: string } {
  const given = process.env.HEADROOM_PROXY_BIN;
  if (given) {
    if (isAbsolute(given) ? executable(given) : findOnPath(given) !== null) return { bin: given };
    return { missing: `HEADROOM_PROXY_BIN=${given} is not an executable` };
  }
  const found = findOnPath("headroom");
  if (found !== null) return { bin: found };
  return {
    missing:
      "no `headroom` on PATH: install the Python package with the proxy extra (pip install -e \".[proxy]\") " +
      "and activate its venv, or set HEADROOM_PROXY_BIN",
  };
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** `skip` option for the suites that need the proxy: the reason, or false when it is there.
 * Under CI a missing proxy throws instead, so a green run cannot hide skipped tests. */
export function skipWithoutProxy(): string | false {
  const found = findProxy();
  if ("bin" in found) return false;
  if (process.env.CI) throw new Error(`the Headroom proxy is needed in CI: ${found.missing}`);
  return `skipped: ${found.missing}`;
}

/** The environment of the proxy: ours without HEADROOM_* (a developer's settings must not
 * change the tests), plus `env`. */
function proxyEnvironment(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("HEADROOM_")) out[name] = value;
  }
  return { ...out, ...env };
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitUntilLive(url: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(`${url}/livez`)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the proxy at ${url} did not answer /livez in time`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Start the proxy with both upstreams at `upstream` (the scripted provider server). */
export async function startProxy(options: { upstream: string; env?: Record<string, string> }): Promise<RunningProxy> {
  const found = findProxy();
  if (!("bin" in found)) throw new Error(found.missing);
  const args = ["proxy", "--port", "0", "--stateless", "--openai-upstream", options.upstream, "--anthropic-upstream", options.upstream];
  const child = spawn(found.bin, args, { env: proxyEnvironment(options.env ?? {}), stdio: ["ignore", "pipe", "pipe"] });
  let banner = "";
  let errors = "";
  child.stderr?.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  const deadline = Date.now() + 60_000;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`headroom proxy printed no banner in time: ${errors}`)), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      banner += chunk.toString();
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner);
      if (found) {
        clearTimeout(timer);
        resolve(found[1] as string);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`headroom proxy exited (${code}) before listening: ${errors}`));
    });
  });
  await waitUntilLive(url, deadline);
  return {
    url,
    banner,
    stop: async () => {
      child.kill("SIGINT");
      if (!(await waitForExit(child, 15_000))) {
        child.kill("SIGKILL");
        await waitForExit(child, 5_000);
      }
    },
  };
}

/** The token of the gated proxy. */
export const PROXY_TOKEN = "s3cret-proxy-token";
/** The caller the forwarder reports: TEST-NET-3 (RFC 5737), an address no traffic goes to. */
export const REMOTE_CALLER = "203.0.113.7";

/** A proxy with HEADROOM_PROXY_TOKEN set, reachable directly (`proxy.url`, a loopback caller)
 * and through a reverse proxy on loopback that reports the caller as REMOTE_CALLER (`remoteUrl`). */
export interface GatedProxy {
  readonly proxy: RunningProxy;
  readonly remoteUrl: string;
  stop(): Promise<void>;
}

/**
 * Start a gated proxy. Its server (uvicorn) takes the caller's address from X-Forwarded-For on
 * connections from FORWARDED_ALLOW_IPS, 127.0.0.1 by default and set here so the environment
 * cannot change it; the forwarder sets that header, as nginx does with
 * `proxy_set_header X-Forwarded-For`. So the token gate sees a non-loopback caller while every
 * packet stays on loopback.
 */
export async function startGatedProxy(upstream: string): Promise<GatedProxy> {
  const proxy = await startProxy({ upstream, env: { HEADROOM_PROXY_TOKEN: PROXY_TOKEN, FORWARDED_ALLOW_IPS: "127.0.0.1" } });
  const forwarder = await startForwarder(proxy.url, REMOTE_CALLER);
  return {
    proxy,
    remoteUrl: forwarder.url,
    stop: async () => {
      await forwarder.close();
      await proxy.stop();
    },
  };
}
