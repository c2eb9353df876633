// Runs the GraphQL-over-HTTP audit suite (graphql-http's auditServer) against one URL.
//
//   node audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one JSON object on stdout:
//   {"url", "counts": {"ok", "notice", "warn", "error"}, "results": [{id, name, status,
//    reason?, response?: {status, contentType, body}}]}
// Exits 0 when the audit ran (whatever it found; the caller judges the results),
// 1 when it could not run, with {"error": "..."} on stdout.
import { auditServer } from 'graphql-http';

const TIMEOUT_MS = 45_000;
const BODY_LIMIT = 200;

function fail(message) {
  process.stdout.write(JSON.stringify({ error: message }) + '\n');
  process.exit(1);
}

// What the server answered, for a failing audit: most reasons only make sense with it.
async function describe(response) {
  if (!response || typeof response.status !== 'number') return undefined;
  let body;
  try {
    body = (await response.clone().text()).slice(0, BODY_LIMIT);
  } catch {
    body = '<body already read by the audit>';
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body,
  };
}

async function main() {
  const url = process.argv[2];
  if (!url) fail('usage: node audit.mjs <url>');
  const timer = setTimeout(() => fail(`audit did not finish within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
  const results = await auditServer({ url });
  clearTimeout(timer);
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  const out = [];
  for (const result of results) {
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    const entry = { id: result.id, name: result.name, status: result.status };
    if (result.status !== 'ok') {
      entry.reason = result.reason;
      entry.response = await describe(result.response);
    }
    out.push(entry);
  }
  process.stdout.write(JSON.stringify({ url, counts, results: out }) + '\n');
}

main().catch((error) => {
  // fetch failures keep the useful part (ECONNREFUSED...) in `cause`.
  const cause = error?.cause ? `\ncaused by: ${error.cause?.stack ?? error.cause}` : '';
  fail(String(error?.stack ?? error) + cause);
});
