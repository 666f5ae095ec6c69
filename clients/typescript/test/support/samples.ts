/** Real tool output for the tests: 30 GitHub Actions runs (PyGithub replay data) bundled with
 * the Python package under core/headroom/samples, one of which failed. */

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const QUESTION = "Which workflow runs of PhishBench failed, and on which branch?";
const WORKFLOW_RUNS = join("json", "PullRequest2408.test_get_workflow_runs.85.json");

/** The repository's core/headroom/samples, found by walking up from this file. */
export function samplesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "core", "headroom", "samples");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("core/headroom/samples not found above the test files");
    dir = parent;
  }
}

export interface WorkflowRun {
  id: number;
  conclusion: string | null;
  head_branch: string;
  [field: string]: unknown;
}

export function workflowRuns(): WorkflowRun[] {
  const data = JSON.parse(readFileSync(join(samplesDir(), WORKFLOW_RUNS), "utf8")) as { body: { workflow_runs: WorkflowRun[] } };
  return data.body.workflow_runs;
}

export function failedRun(): WorkflowRun {
  const failed = workflowRuns().filter((run) => run.conclusion === "failure");
  if (failed.length !== 1) throw new Error(`expected one failed run in the sample, found ${failed.length}`);
  return failed[0] as WorkflowRun;
}

export interface Message {
  role: string;
  content: string | null;
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/** An agent turn in OpenAI format: the question, a tool call, and the tool's real JSON output. */
export function agentTurn(): Message[] {
  return [
    { role: "system", content: "You answer questions about CI runs. Use the tools." },
    { role: "user", content: QUESTION },
    {
      role: "assistant",
      content: null,
      tool_calls: [
        { id: "call_runs", type: "function", function: { name: "list_workflow_runs", arguments: '{"repo": "ReDASers/PhishBench"}' } },
      ],
    },
    { role: "tool", tool_call_id: "call_runs", content: JSON.stringify(workflowRuns()) },
  ];
}

/** The same turn in the Anthropic Messages format. */
export function anthropicTurn(): { role: "user" | "assistant"; content: unknown }[] {
  return [
    { role: "user", content: QUESTION },
    { role: "assistant", content: [{ type: "tool_use", id: "toolu_runs", name: "list_workflow_runs", input: { repo: "ReDASers/PhishBench" } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_runs", content: JSON.stringify(workflowRuns()) }] },
  ];
}
