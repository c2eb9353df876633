// Runs a query, a mutation and a subscription through the graphql-ws client
// (subprotocol graphql-transport-ws) over one WebSocket connection.
//
//   node ws-client.mjs ws://127.0.0.1:8000/graphql     (http:// is turned into ws://)
//
// Prints one JSON object on stdout:
//   {"url", "protocol", "connections", "query": [results], "mutation": [results],
//    "subscription": [results]}
// where each list holds the execution results the client received, in order.
// Exits 1 with {"error": ..., plus whatever had been received} when an operation fails
// (a GraphQL error list, or the close event {code, reason} that ended the connection).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const TIMEOUT_MS = 30_000;

const report = { url: undefined, protocol: null, connections: 0 };

function finish(code, extra = {}) {
  process.stdout.write(JSON.stringify({ ...report, ...extra }) + '\n');
  process.exit(code);
}

// graphql-ws rejects with an array of GraphQL errors, a close event, the socket's
// error event (connection refused, handshake rejected) or an Error.
function explain(error) {
  if (Array.isArray(error)) return { errors: error };
  if (error && typeof error.code === 'number') {
    return { close: { code: error.code, reason: String(error.reason ?? '') } };
  }
  if (error && error.type === 'error' && 'error' in error) {
    return { message: `WebSocket error: ${error.message || error.error}` };
  }
  return { message: String(error?.stack ?? error) };
}

async function main() {
  const target = process.argv[2];
  if (!target) finish(1, { error: { message: 'usage: node ws-client.mjs <url>' } });
  report.url = target.replace(/^http(s?):/, 'ws$1:');
  setTimeout(
    () => finish(1, { error: { message: `did not finish within ${TIMEOUT_MS} ms` } }),
    TIMEOUT_MS,
  ).unref();

  const client = createClient({
    url: report.url,
    // The `ws` package on every Node version, so the result does not depend on
    // whether this Node has a global WebSocket.
    webSocketImpl: WebSocket,
    lazy: true,
    // Keep the socket open between the sequential operations below.
    lazyCloseTimeout: 5_000,
    retryAttempts: 0,
    on: {
      connected: (socket) => {
        report.connections += 1;
        report.protocol = socket.protocol;
      },
    },
  });

  async function collect(key, payload) {
    report[key] = [];
    for await (const result of client.iterate(payload)) report[key].push(result);
  }

  let step = 'query';
  try {
    await collect('query', {
      query: 'query Hello($name: String) { hello(name: $name) }',
      variables: { name: 'Node' },
      operationName: 'Hello',
    });
    step = 'mutation';
    await collect('mutation', { query: 'mutation { echo(message: "ping") }' });
    step = 'subscription';
    await collect('subscription', { query: 'subscription { count(to: 3) }' });
  } catch (error) {
    await client.dispose();
    finish(1, { error: { step, ...explain(error) } });
  }
  await client.dispose();
  finish(0);
}

main().catch((error) => finish(1, { error: explain(error) }));
