// Drives an MCP server with the official TypeScript client and prints what
// it saw as one JSON document on stdout, for a Go test to check.
//
// The plan is read from stdin:
//   {"stdio": {"command": "...", "args": [...], "env": {...}}}
//   or {"http": {"url": "http://127.0.0.1:8080/mcp", "token": "..."}}
//   plus "calls": [{"name": "list_incidents", "arguments": {...}}, ...]
//
// The client checks each result's structured content against the tool's
// output schema itself, so a result that breaks its schema shows up as an
// error of that call.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

function transportFor(plan) {
  if (plan.stdio) {
    const { command, args = [], env = {} } = plan.stdio;
    return new StdioClientTransport({
      command,
      args,
      env: { ...process.env, ...env },
      stderr: "pipe",
    });
  }
  if (plan.http) {
    const headers = {};
    if (plan.http.token) headers.Authorization = `Bearer ${plan.http.token}`;
    return new StreamableHTTPClientTransport(new URL(plan.http.url), { requestInit: { headers } });
  }
  throw new Error("plan needs stdio or http");
}

async function listAllTools(client) {
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

async function main() {
  const plan = JSON.parse(await readStdin());
  const transport = transportFor(plan);
  let stderr = "";
  if (transport.stderr) transport.stderr.on("data", (d) => { stderr += d.toString(); });

  const client = new Client({ name: "medic-mcp-test", version: "1.0.0" });
  const out = { connected: false, calls: [] };
  try {
    await client.connect(transport);
    out.connected = true;
    out.server = client.getServerVersion();
    out.capabilities = client.getServerCapabilities();
    out.instructions = client.getInstructions();
    out.tools = await listAllTools(client);
    for (const call of plan.calls ?? []) {
      try {
        const result = await client.callTool({ name: call.name, arguments: call.arguments ?? {} });
        out.calls.push({ name: call.name, result });
      } catch (e) {
        out.calls.push({ name: call.name, error: String(e?.message ?? e) });
      }
    }
  } catch (e) {
    out.error = String(e?.message ?? e);
  } finally {
    await client.close().catch(() => {});
  }
  out.stderr = stderr;
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + "\n");
  process.exit(1);
});
