// pisteur web page: plain JS, no build step. Every piece of indexed text is inserted with textContent
// (never innerHTML): hits hold arbitrary text, including HTML and scripts.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const KIND_FR = { exchange: "échange", summary: "résumé", tool_result: "sortie d'outil", thinking: "réflexion",
  document: "document", message: "message" };
let lastQuery = "";

function el(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined && text !== null) n.textContent = String(text);
  return n;
}

// Text with [start, end) spans wrapped in <mark>, built from text nodes only.
function highlighted(text, spans) {
  const frag = document.createDocumentFragment();
  let pos = 0;
  for (const [s, e] of (spans || []).slice().sort((a, b) => a[0] - b[0])) {
    if (s < pos || e > text.length) continue;
    if (s > pos) frag.appendChild(document.createTextNode(text.slice(pos, s)));
    frag.appendChild(el("mark", null, text.slice(s, e)));
    pos = e;
  }
  if (pos < text.length) frag.appendChild(document.createTextNode(text.slice(pos)));
  return frag;
}

function authHeaders() {
  const t = sessionStorage.getItem("pisteur-token");
  return t ? { Authorization: "Bearer " + t } : {};
}

async function api(path, opts = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), ...authHeaders() } });
    if (r.status === 401 && attempt === 0) {
      const t = window.prompt("Ce serveur demande un jeton d'accès (bearer token) :");
      if (!t) throw new Error("jeton requis");
      sessionStorage.setItem("pisteur-token", t.trim());
      continue;
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : r.status + " " + r.statusText);
    return body;
  }
}

// An expansion as the pipeline reports it ({from, to: [...], dictionary} or a string), in words.
function fmtExpansion(x) {
  if (typeof x === "string") return x;
  if (x && typeof x === "object" && "from" in x) {
    const to = Array.isArray(x.to) ? x.to.join(", ") : String(x.to ?? "");
    return x.from + " → " + to + (x.dictionary ? " (" + x.dictionary + ")" : "");
  }
  return JSON.stringify(x);
}

function fmtDate(ts) {
  if (!ts) return "";
  return String(ts).replace("T", " ").replace(/\.\d+Z?$|Z$/, "").slice(0, 16);
}

function whereLine(h) {
  const parts = [];
  let src = h.source || "";
  if (h.line_start) src += ":" + h.line_start + (h.line_end && h.line_end !== h.line_start ? "-" + h.line_end : "");
  parts.push(src);
  if (h.project) parts.push("projet " + h.project);
  if (h.session_id) parts.push("session " + String(h.session_id).slice(0, 8));
  const d = fmtDate(h.ts_first);
  if (d) parts.push(d);
  return parts.join(" · ");
}

function explainBlock(h, resp) {
  const box = el("dl");
  const add = (k, v) => { box.appendChild(el("dt", null, k)); box.appendChild(el("dd", null, v)); };
  const ex = h.explain || {};
  const stageNames = { dense: "sémantique (vecteurs)", lexical: "lexical (BM25)", sparse: "termes pondérés",
    fused: "fusion", rerank: "reclassement", expansion: "lexical (expansions)",
    expansions: "expansions qui ont joué" };
  for (const [k, v] of Object.entries(ex)) {
    let txt;
    if (Array.isArray(v)) {
      txt = v.map((x) => (typeof x === "string" ? x : fmtExpansion(x))).join(" ; ");
    } else if (v && typeof v === "object") {
      txt = Object.entries(v).map(([a, b]) => a + " " + (typeof b === "number" ? +b.toFixed(4) : JSON.stringify(b))).join(", ");
    } else {
      txt = typeof v === "number" ? String(+v.toFixed(4)) : JSON.stringify(v);
    }
    add(stageNames[k] || k, txt);
  }
  if (!Object.keys(ex).length) add("étapes", "aucun détail");
  const exps = (resp.expansions || []).map(fmtExpansion);
  add("expansions de la requête", exps.length ? exps.join(" ; ") : "aucune");
  add("score final", String(h.score));
  return box;
}

async function toggleContext(li, h, page = 0) {
  const box = $(".context", li);
  if (!box.hidden && page === 0 && box.dataset.loaded) { box.hidden = true; return; }
  box.hidden = false;
  box.textContent = "Chargement du contexte…";
  try {
    const q = new URLSearchParams({ id: h.id, before: 1, after: 1, page, q: lastQuery });
    const r = await api("/api/read?" + q.toString());
    box.textContent = "";
    box.dataset.loaded = "1";
    for (const p of r.passages) {
      const div = el("div", "passage" + (p.is_hit ? " is-hit" : ""));
      const meta = [KIND_FR[p.kind] || p.kind];
      if (p.line_start) meta.push("lignes " + p.line_start + "-" + (p.line_end || p.line_start));
      if (p.ts_first) meta.push(fmtDate(p.ts_first));
      if (p.uuids && p.uuids.length) meta.push(p.uuids.length + " message(s), " + p.uuids[0].slice(0, 8) + "…");
      div.appendChild(el("span", "meta", meta.join(" · ")));
      div.appendChild(highlighted(p.text, p.highlights));
      if (p.truncated) div.appendChild(el("span", "meta", "(suite page suivante)"));
      box.appendChild(div);
    }
    if (r.has_more) {
      const more = el("button", null, "Page suivante (" + (r.page + 2) + "/" + r.pages + ")");
      more.type = "button";
      more.addEventListener("click", () => toggleContext(li, h, r.page + 1));
      box.appendChild(more);
    }
  } catch (e) {
    box.textContent = "";
    box.appendChild(el("span", "error", "Contexte indisponible : " + e.message));
  }
}

function renderHits(resp) {
  const list = $("#results");
  list.textContent = "";
  const sum = $("#summary");
  sum.textContent = resp.hits.length + " résultat(s) en " + Math.round(resp.took_ms) + " ms" + (resp.cached ? " (cache)" : "");
  for (const x of resp.expansions || []) sum.appendChild(el("span", "exp", fmtExpansion(x)));
  const tpl = $("#hit-tpl");
  for (const h of resp.hits) {
    const li = tpl.content.firstElementChild.cloneNode(true);
    li.dataset.id = h.id;
    $(".rank", li).textContent = h.rank + ".";
    $(".kind", li).textContent = KIND_FR[h.kind] || h.kind;
    $(".title", li).textContent = h.title || (h.source || "").split("/").pop();
    $(".score", li).textContent = "score " + (+h.score).toFixed(3);
    $(".where", li).textContent = whereLine(h);
    $(".snippet", li).appendChild(highlighted(h.snippet, h.highlights));
    $(".ctx-btn", li).addEventListener("click", () => toggleContext(li, h));
    $(".why-btn", li).addEventListener("click", () => {
      const w = $(".why", li);
      if (!w.hidden) { w.hidden = true; return; }
      w.textContent = "";
      w.appendChild(explainBlock(h, resp));
      w.hidden = false;
    });
    list.appendChild(li);
  }
}

async function runSearch(ev) {
  if (ev) ev.preventDefault();
  const q = $("#q").value.trim();
  if (!q) return;
  lastQuery = q;
  const params = new URLSearchParams({ q, k: $("#k").value, explain: "true" });
  for (const f of ["project", "session", "source", "date_from", "date_to"]) {
    const v = $("#" + f).value.trim();
    if (v) params.set(f, v);
  }
  for (const c of document.querySelectorAll("#kinds input:checked")) params.append("kind", c.value);
  history.replaceState(null, "", "?" + params.toString());
  $("#summary").textContent = "Recherche…";
  try {
    renderHits(await api("/api/search?" + params.toString()));
  } catch (e) {
    $("#results").textContent = "";
    $("#summary").textContent = "";
    $("#summary").appendChild(el("span", "error", "Erreur : " + e.message));
  }
}

async function refreshStatus() {
  const box = $("#status");
  try {
    const s = await api("/api/status");
    box.textContent = "";
    if (!s.ready) {
      box.textContent = "Pas encore d'index" + (s.live && s.live.running ? " — indexation en cours" : "");
    } else {
      box.textContent = s.chunks.toLocaleString("fr-FR") + " passages · " + s.sources.toLocaleString("fr-FR") +
        " fichiers · " + (s.model || "?") + " · génération " + s.generation;
    }
    const live = s.live || {};
    if (live.enabled) {
      const phase = live.phase || (live.running ? "indexing" : "up_to_date");
      if (phase === "indexing") {
        const pct = Math.round((live.progress || 0) * 100);
        box.appendChild(document.createTextNode(" · indexation " + pct + " % (" + live.files_done + "/" + live.files_total + ")"));
        const bar = el("span", "bar");
        const fill = el("span");
        fill.style.width = pct + "%";
        bar.appendChild(fill);
        box.appendChild(bar);
      } else if (phase === "waiting_for_lock") {
        box.appendChild(document.createTextNode(" · en attente : un autre processus indexe en ce moment"));
      } else if (phase === "pending") {
        box.appendChild(document.createTextNode(" · indexation en attente"));
      } else if (phase === "up_to_date") {
        box.appendChild(document.createTextNode(" · à jour" + (live.last_run ? " (" + fmtDate(live.last_run) + ")" : "")));
      }
      if (live.last_error) box.appendChild(el("span", "error", " · " + live.last_error));
    }
  } catch (e) {
    box.textContent = "Index : " + e.message;
  }
}

function init() {
  $("#search-form").addEventListener("submit", runSearch);
  const params = new URLSearchParams(location.search);
  for (const f of ["q", "project", "session", "source", "date_from", "date_to"]) {
    if (params.get(f)) $("#" + f).value = params.get(f);
  }
  refreshStatus();
  setInterval(refreshStatus, 3000);
  if (params.get("q")) runSearch();
}

init();
