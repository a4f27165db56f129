// Starts a test server on a local port and gives back its port and a close() that also ends
// keep-alive connections (workerd holds them open, which would keep close() waiting).

/**
 * @param {import('node:http').Server} server
 * @param {string} label  named in the error when the server has no TCP address
 * @param {{ host?: string, port?: number }} [at]
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export async function listenLocal(server, label, { host = '127.0.0.1', port = 0 } = {}) {
  await new Promise((resolve) => server.listen(port, host, () => resolve(undefined)));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${label}: no TCP address`);
  return {
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}
