// Compress a real tool output through a local Headroom proxy, then restore it by key.
//
//   headroom proxy                                   # another terminal; pip install -e ".[proxy]"
//   cd clients/typescript && npm ci && npm run build
//   node examples/compress-and-retrieve.mjs [FILE]   # HEADROOM_BASE_URL when not http://localhost:8787
//
// FILE is a tool output (JSON or text); by default a bundled sample: 30 GitHub Actions runs.
import { readFileSync } from "node:fs";

import { HeadroomClient } from "headroom-context-client";

const sample = new URL("../../../core/headroom/samples/json/PullRequest2408.test_get_workflow_runs.85.json", import.meta.url);
const file = process.argv[2] ?? sample;
let toolOutput = readFileSync(file, "utf8");
if (file === sample) toolOutput = JSON.stringify(JSON.parse(toolOutput).body.workflow_runs); // the runs, without the sample's wrapper

const question = "Which workflow runs failed, and on which branch?";
const messages = [
  { role: "user", content: question },
  {
    role: "assistant",
    content: null,
    tool_calls: [{ id: "call_1", type: "function", function: { name: "list_workflow_runs", arguments: "{}" } }],
  },
  { role: "tool", tool_call_id: "call_1", content: toolOutput },
];

const headroom = new HeadroomClient(); // fallback on: a proxy that is down gives back the original messages
const result = await headroom.compress(messages, { model: "gpt-4o", query: question });
if (result.fallback) {
  console.error(`sent uncompressed: ${result.reason}`);
  process.exit(1);
}

const percent = Math.round(result.compressionRatio * 100);
console.log(`tokens: ${result.tokensBefore} -> ${result.tokensAfter} (${percent}% fewer)`);
console.log(`transforms: ${result.transformsApplied.join(", ") || "none"}`);
for (const key of result.ccrKeys) {
  const { content } = await headroom.retrieve(key);
  console.log(`${key}: ${content.length} characters, restored byte for byte: ${content === toolOutput}`);
}
