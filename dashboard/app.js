// SPDX-License-Identifier: MIT
// cairn dashboard: vanilla JS, no dependencies.  Live numbers arrive on
// /api/events (Server-Sent Events, one JSON object a second; the same
// object as /api/stats); if the stream cannot be opened the page polls
// /api/stats every second instead.  The leaderboard is /api/leaderboard,
// fetched after each update (at most once a second); the map is drawn
// once from /api/beacons.  Every string from the server is inserted as
// text, never as HTML.  Contract: docs/protocol.md "Dashboard endpoints".
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const state = { beacons: new Map(), rate: [], lbBusy: false, lbAt: 0, polling: null, gotEvent: false };

  const fmt = (n) => (n === null || n === undefined ? '—' : Math.round(n).toLocaleString('en-US'));

  function ago(ms) {
    if (!ms) return '—';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    return Math.floor(s / 3600) + ' h ago';
  }

  function setStatus(mode, text) {
    const el = $('status');
    el.className = 'pill ' + mode;
    el.textContent = text;
  }

  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return r.json();
  }

  function el(tag, attrs, text) {
    const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- the map -------------------------------------------------------------
  function drawMap(beacons) {
    const map = $('map');
    map.textContent = '';
    if (!beacons.length) return;
    const xs = beacons.map((b) => b.x), ys = beacons.map((b) => b.y);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const w = Math.max(x1 - x0, 1), h = Math.max(y1 - y0, 1), pad = Math.max(w, h) * 0.08;
    map.setAttribute('viewBox', [x0 - pad, y0 - pad, w + 2 * pad, h + 2 * pad].join(' '));
    const r = Math.max(w, h) / 70;
    map.style.setProperty('--r', r);
    for (const b of beacons) {
      const g = el('svg:g', { 'data-beacon': b.id });
      const c = el('svg:circle', { cx: b.x, cy: b.y, r: r, class: 'beacon' });
      c.appendChild(el('svg:title', {}, b.name + ' (' + b.id + ', ' + b.points + ' points)'));
      const t = el('svg:text', { x: b.x, y: b.y + r * 2.6 }, b.id);
      t.style.fontSize = r * 1.6 + 'px';
      g.append(c, t);
      map.appendChild(g);
      state.beacons.set(b.id, { b, g, c, r });
    }
  }

  function markFinds(finds) {
    for (const v of state.beacons.values()) {
      v.c.classList.remove('hot');
      const old = v.g.querySelector('.ring');
      if (old) old.remove();
    }
    const count = new Map();
    for (const f of finds) if (f.beacon) count.set(f.beacon, (count.get(f.beacon) || 0) + 1);
    for (const [id, n] of count) {
      const v = state.beacons.get(id);
      if (!v) continue;
      v.c.classList.add('hot');
      v.g.insertBefore(el('svg:circle', { cx: v.b.x, cy: v.b.y, r: v.r * (1.6 + 0.4 * n), class: 'ring' }), v.c);
    }
  }

  // ---- numbers ---------------------------------------------------------------
  function spark(v) {
    state.rate.push(v || 0);
    if (state.rate.length > 60) state.rate.shift();
    const max = Math.max(1, ...state.rate);
    const pts = state.rate.map((y, i) => (i * 120) / 59 + ',' + (29 - (y / max) * 27).toFixed(1));
    $('spark').querySelector('polyline').setAttribute('points', pts.join(' '));
  }

  function showFinds(finds) {
    const ol = $('finds');
    ol.textContent = '';
    for (const f of finds) {
      const b = f.beacon && state.beacons.get(f.beacon);
      const where = b ? ' — near ' + b.b.name : '';
      ol.appendChild(el('li', { 'data-player': f.player },
        f.player + ': ' + f.found + ' found, ' + fmt(f.score) + ' points' + where + ' (' + ago(f.at) + ')'));
    }
    $('finds-empty').hidden = finds.length > 0;
    markFinds(finds);
  }

  function showPartitions(parts) {
    const tb = $('partitions').querySelector('tbody');
    tb.textContent = '';
    for (const p of parts) {
      const tr = el('tr');
      tr.append(el('td', {}, String(p.partition)), el('td', { class: 'num' }, fmt(p.end_offset)));
      tb.appendChild(tr);
    }
  }

  function onStats(s) {
    $('pings-per-s').textContent = s.pings_per_s === null ? '—' : fmt(s.pings_per_s);
    $('pings-per-s').dataset.value = s.pings_per_s === null ? '' : String(s.pings_per_s);
    $('active-players').textContent = fmt(s.active_players);
    $('players').textContent = fmt(s.players);
    $('finds-total').textContent = fmt(s.finds_total);
    $('pings-total').textContent = fmt(s.pings_total);
    $('pings-total').dataset.value = String(s.pings_total);
    $('lag').textContent = fmt(s.lag);
    $('updated').textContent = 'updated ' + new Date(s.ts).toLocaleTimeString();
    spark(s.pings_per_s);
    showFinds(s.recent_finds || []);
    showPartitions(s.partitions || []);
    refreshLeaderboard();
  }

  async function refreshLeaderboard() {
    if (state.lbBusy || Date.now() - state.lbAt < 900) return;
    state.lbBusy = true;
    try {
      const rows = await getJSON('/api/leaderboard?limit=10');
      const tb = $('leaderboard').querySelector('tbody');
      tb.textContent = '';
      for (const r of rows) {
        const tr = el('tr', { 'data-player': r.player });
        tr.append(el('td', {}, String(r.rank)), el('td', { class: 'player' }, r.player),
          el('td', { class: 'num score' }, fmt(r.score)), el('td', { class: 'num' }, String(r.found)),
          el('td', { class: 'num seen' }, ago(r.last_seen)));
        tb.appendChild(tr);
      }
      $('leaderboard-empty').hidden = rows.length > 0;
    } catch (e) {
      console.warn(e);
    } finally {
      state.lbAt = Date.now();
      state.lbBusy = false;
    }
  }

  // ---- transport --------------------------------------------------------------
  function startPolling() {
    if (state.polling) return;
    setStatus('polling', 'polling');
    const tick = async () => {
      try {
        onStats(await getJSON('/api/stats'));
        setStatus('polling', 'polling');
      } catch (e) {
        setStatus('offline', 'offline');
      }
    };
    tick();
    state.polling = setInterval(tick, 1000);
  }

  function startEvents() {
    if (!window.EventSource) return startPolling();
    const es = new EventSource('/api/events');
    let failures = 0;
    es.onmessage = (e) => {
      failures = 0;
      state.gotEvent = true;
      setStatus('live', 'live');
      onStats(JSON.parse(e.data));
    };
    es.onerror = () => {
      // EventSource retries by itself, except after an answer that is not
      // a stream (a server without /api/events says 404): then, or if it
      // never worked after three tries, poll instead.
      if (es.readyState === EventSource.CLOSED || (++failures >= 3 && !state.gotEvent)) {
        es.close();
        startPolling();
      } else {
        setStatus('connecting', 'reconnecting…');
      }
    };
  }

  getJSON('/api/beacons').then(drawMap).catch((e) => console.warn(e));
  // ?transport=poll forces polling (for tests, and for proxies that buffer streams).
  if (new URLSearchParams(location.search).get('transport') === 'poll') startPolling();
  else startEvents();
  refreshLeaderboard();
})();
