// What every dashboard page does to stay live: fetch its data every DASHBOARD_REFRESH_MS, draw
// it, and say in the status badge whether the figures are live or stale (the last ones stay on
// screen when a refresh fails).

const status = () => document.getElementById('status');

function setStatus(state, text) {
  status().dataset.state = state;
  status().textContent = text;
}

/** Loads `url()` now and every refresh interval, handing each answer to `render`. Returns a refresh function. */
export async function keepLive(url, render) {
  async function refresh() {
    try {
      const res = await fetch(url());
      const body = await res.json();
      if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
      render(body);
      document.body.dataset.loadedAt = String(body.generatedAt);
      setStatus('live', `live · ${new Date(body.generatedAt).toLocaleTimeString()}`);
    } catch (err) {
      setStatus('stale', `stale: ${err.message}`);
    }
  }
  const { refreshMs } = await (await fetch('/api/config')).json();
  await refresh();
  setInterval(refresh, refreshMs);
  return refresh;
}
