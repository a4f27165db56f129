// The upstream dependency: sends one prepared request and classifies transport failures.
// Bodies stream both ways; nothing is buffered here.

export type UpstreamResult = { ok: true; response: Response; ms: number } | { ok: false; code: 'upstream_timeout' | 'upstream_unavailable'; ms: number };

export interface Upstream {
  send(url: string, init: { method: string; headers: HeadersInit; body: ReadableStream<Uint8Array> | string | null }, timeoutMs: number): Promise<UpstreamResult>;
}

function abortOnTimeout(controller: AbortController): void {
  controller.abort();
}

/** The real upstream: global fetch, manual redirects (a 3xx goes back to the client, never followed to another host). */
export const fetchUpstream: Upstream = {
  async send(url, init, timeoutMs) {
    const started = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(abortOnTimeout, timeoutMs, controller);
    try {
      const response = await fetch(url, {
        method: init.method,
        headers: init.headers,
        body: init.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      return { ok: true, response, ms: performance.now() - started };
    } catch {
      // Only our timer aborts this controller.
      return { ok: false, code: controller.signal.aborted ? 'upstream_timeout' : 'upstream_unavailable', ms: performance.now() - started };
    } finally {
      // The timeout covers the wait for response headers; a long stream after them is fine.
      clearTimeout(timer);
    }
  },
};
