// Send an openai SDK client's requests through a local Headroom proxy: the proxy compresses
// them and forwards them to OpenAI (or the proxy's --openai-upstream).
//
//   headroom proxy                                   # another terminal; pip install -e ".[proxy]"
//   cd clients/typescript && npm ci && npm run build
//   OPENAI_API_KEY=sk-... node examples/openai-through-proxy.mjs
import { readFileSync } from "node:fs";

import OpenAI from "openai";

import { withHeadroom } from "headroom-context-client";

const sample = new URL("../../../core/headroom/samples/json/PullRequest2408.test_get_workflow_runs.85.json", import.meta.url);
const runs = JSON.parse(readFileSync(sample, "utf8")).body.workflow_runs;

// The client keeps its own API key; only its base URL changes (HEADROOM_BASE_URL, else http://localhost:8787).
const openai = withHeadroom(new OpenAI());

const completion = await openai.chat.completions.create({
  model: "gpt-4o",
  messages: [
    { role: "user", content: "Which workflow run failed, and on which branch?" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "list_workflow_runs", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "call_1", content: JSON.stringify(runs) },
  ],
});
console.log(completion.choices[0]?.message.content);
