/** @module Ready-to-paste client configurations for a preset's MCP URL. */

export interface Snippet {
  id: string;
  title: string;
  text: string;
}

/** The snippets of the preset page: Claude Code, Cursor, VS Code, MCP Inspector and curl. */
export function clientSnippets(name: string, url: string): Snippet[] {
  const key = name.replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, 50) || "mcpgate";
  return [
    { id: "claude-code", title: "Claude Code", text: `claude mcp add --transport http ${key} ${url}` },
    { id: "cursor", title: "Cursor (.cursor/mcp.json)", text: JSON.stringify({ mcpServers: { [key]: { url } } }, null, 2) },
    { id: "vscode", title: "VS Code (.vscode/mcp.json)", text: JSON.stringify({ servers: { [key]: { type: "http", url } } }, null, 2) },
    {
      id: "inspector",
      title: "MCP Inspector",
      text: `npx @modelcontextprotocol/inspector --transport http --server-url ${url}`,
    },
    {
      id: "curl",
      title: "curl (initialize)",
      text: [
        `curl -i -X POST ${url} \\`,
        "  -H 'Authorization: Bearer <your API token>' \\",
        "  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\",
        "  -H 'MCP-Protocol-Version: 2025-11-25' \\",
        `  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'`,
      ].join("\n"),
    },
  ];
}
