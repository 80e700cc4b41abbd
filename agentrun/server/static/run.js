"use strict";
/* One run: its state, a live timeline of its nodes, its model calls, its graph, and the form
   that answers its question. Events come from GET /runs/{id}/events (Server-Sent Events); the
   offset of the last one read is kept, so a stream opened again goes on where it stopped. */

const SVG = "http://www.w3.org/2000/svg";
const KINDS = ["node_started", "node_finished", "token", "model_call", "tool_call", "checkpoint",
               "interrupt", "result"];
const runId = decodeURIComponent(location.pathname.split("/").pop());
const run = {executions: [], calls: 0, offset: 0, source: null, live: false, state: null,
             tokens: 0, cost: 0};

function openExecution(label) {
  /* The execution a call labelled `worker[3]` or `result/plan` belongs to: that node's, else
     the node holding it, else the last one still open. */
  const parts = label.split("[")[0].split("/");
  for (let end = parts.length; end > 0; end--) {
    const name = parts.slice(0, end).join("/");
    for (let i = run.executions.length - 1; i >= 0; i--) {
      const execution = run.executions[i];
      if (execution.node === name && execution.end === null) return execution;
    }
  }
  for (let i = run.executions.length - 1; i >= 0; i--) {
    if (run.executions[i].end === null) return run.executions[i];
  }
  return null;
}

function apply(kind, event) {
  if (kind === "node_started") {
    run.executions.push({node: event.node, start: event.time, end: null, tokens: 0, cost: 0,
                         calls: 0, tools: 0});
  } else if (kind === "node_finished") {
    const open = run.executions.find((e) => e.node === event.node && e.end === null);
    if (open) open.end = event.time;
  } else if (kind === "model_call") {
    const execution = openExecution(event.node);
    if (execution) {
      execution.tokens += event.prompt_tokens + event.completion_tokens;
      execution.cost += event.cost_usd;
      execution.calls += 1;
    }
    addCall(event);
  } else if (kind === "tool_call") {
    const execution = openExecution(event.node);
    if (execution) execution.tools += 1;
  } else if (kind === "interrupt") {
    const asked = openExecution(event.node);
    if (asked && asked.node === event.node) {
      asked.end = event.time;
      asked.stopped = "waited for an answer";
    }
    showQuestion(event.pending);
  } else if (kind === "result") {
    closeOpen(event.time, "stopped");
  }
  run.tokens += kind === "model_call" ? event.prompt_tokens + event.completion_tokens : 0;
  run.cost += kind === "model_call" ? event.cost_usd : 0;
}

function closeOpen(time, why) {
  /* Steps a run left without finishing (it stopped at a question, failed or was stopped). */
  for (const execution of run.executions) {
    if (execution.end === null) {
      execution.end = time;
      execution.stopped = why;
    }
  }
}

function addCall(event) {
  const list = document.getElementById("calls");
  if (run.calls === 0) list.replaceChildren();
  run.calls += 1;
  const details = element("details", null, "call");
  const model = event.resolved_model && event.resolved_model !== event.model
    ? `${event.model} (${event.resolved_model})` : event.model;
  const summary = element("summary",
    `${event.node} · ${model} · ${event.prompt_tokens} in / ${event.completion_tokens} out` +
    ` · ${event.latency_s.toFixed(2)} s` + (event.cache_hit ? " · cached" : "") +
    (event.finish_reason ? ` · ${event.finish_reason}` : ""));
  details.appendChild(summary);
  for (const message of event.messages || []) {
    details.appendChild(element("div", message.role, "role"));
    details.appendChild(element("pre", contentText(message.content)));
  }
  details.appendChild(element("div", "reply", "role"));
  details.appendChild(element("pre", event.reply || "(no text)"));
  list.appendChild(details);
}

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => part.text || (part.image_url ? "[image " + part.image_url.url + "]" : JSON.stringify(part))).join("\n");
  }
  return JSON.stringify(content, null, 2);
}

function drawTimeline() {
  const box = document.getElementById("timeline");
  if (run.executions.length === 0) {
    box.replaceChildren(element("p", "No steps yet.", "muted"));
    return;
  }
  const now = Date.now() / 1000;
  const first = Math.min(...run.executions.map((e) => e.start));
  const last = Math.max(...run.executions.map((e) => e.end === null ? now : e.end));
  const span = Math.max(last - first, 0.001);
  const width = 760, label = 330, rowHeight = 24, barArea = width - label - 10;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(rowHeight * run.executions.length + 24));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "timeline of the run's nodes");
  run.executions.forEach((execution, index) => {
    const y = index * rowHeight + 4;
    const end = execution.end === null ? now : execution.end;
    const x = label + ((execution.start - first) / span) * barArea;
    const bar = document.createElementNS(SVG, "rect");
    bar.setAttribute("x", String(x));
    bar.setAttribute("y", String(y));
    bar.setAttribute("width", String(Math.max(((end - execution.start) / span) * barArea, 2)));
    bar.setAttribute("height", String(rowHeight - 8));
    bar.setAttribute("class", execution.end === null ? "bar running" : execution.stopped ? "bar stopped" : "bar");
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("x", "0");
    text.setAttribute("y", String(y + rowHeight - 11));
    const seconds = (end - execution.start).toFixed(1);
    text.textContent = `${execution.node}  ${execution.tokens} tok  ${money(execution.cost)}  ${seconds} s`;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${execution.node}: ${execution.calls} model calls, ${execution.tools} tool calls` +
      (execution.stopped ? ` (${execution.stopped})` : "");
    bar.appendChild(title);
    svg.appendChild(text);
    svg.appendChild(bar);
  });
  const axis = document.createElementNS(SVG, "text");
  axis.setAttribute("x", String(label));
  axis.setAttribute("y", String(rowHeight * run.executions.length + 18));
  axis.setAttribute("class", "axis");
  axis.textContent = `0 s … ${span.toFixed(1)} s`;
  svg.appendChild(axis);
  box.replaceChildren(svg);
}

function showState(state) {
  run.state = state;
  document.title = "agentrun: " + state.name + " " + state.id;
  document.getElementById("run-name").textContent = `${state.name} (${state.id})`;
  const status = state.active && state.status !== "running" ? "running" : state.status;
  const badge = document.getElementById("run-status");
  badge.textContent = status;
  badge.className = "status " + status;
  const tokens = Math.max(tokensOf(state.usage), run.tokens);
  const cost = Math.max(state.cost_usd || 0, run.cost);
  document.getElementById("run-summary").textContent =
    `${state.kind} · started ${when(state.created)} · ${tokens} tokens · ${money(cost)}`;
  const error = document.getElementById("run-error");
  error.hidden = !state.error || status === "running";
  error.textContent = state.error || "";
  if (state.status === "waiting" && state.question && !state.active) showQuestion(state.question);
  else document.getElementById("question").hidden = true;
  const outputs = document.getElementById("outputs");
  outputs.replaceChildren();
  document.getElementById("outputs-section").hidden = !state.outputs;
  for (const [name, value] of Object.entries(state.outputs || {})) {
    outputs.appendChild(element("dt", name));
    const shown = element("dd");
    shown.appendChild(element("pre", typeof value === "string" ? value : JSON.stringify(value, null, 2)));
    outputs.appendChild(shown);
  }
}

function showQuestion(pending) {
  document.getElementById("question").hidden = false;
  document.getElementById("question-node").textContent = "at " + pending.node;
  document.getElementById("question-text").textContent = pending.question;
  const value = document.getElementById("question-value");
  value.hidden = pending.review !== "approve";
  value.textContent = typeof pending.value === "string" ? pending.value : JSON.stringify(pending.value, null, 2);
  let hint = pending.review === "approve" ? "Answer approve, reject: <reason>, or an edited value (JSON)." : "";
  if (pending.answer_schema) hint += " The answer must match: " + JSON.stringify(pending.answer_schema);
  document.getElementById("question-hint").textContent = hint;
}

async function refreshState() {
  const response = await api("/runs/" + encodeURIComponent(runId));
  if (response.ok) showState(await response.json());
}

function follow() {
  if (run.source) run.source.close();
  const source = new EventSource(`/runs/${encodeURIComponent(runId)}/events?after=${run.offset}`);
  run.source = source;
  run.live = true;
  for (const kind of KINDS) {
    source.addEventListener(kind, (message) => {
      run.offset = Number(message.lastEventId) || run.offset;
      apply(kind, JSON.parse(message.data));
      drawTimeline();
      if (kind === "node_finished" || kind === "result") refreshState();
    });
  }
  source.addEventListener("end", (message) => {
    source.close();
    run.live = false;
    const ended = JSON.parse(message.data);
    if (ended.status === "failed" || ended.status === "interrupted") closeOpen(Date.now() / 1000, ended.status);
    refreshState().then(drawTimeline);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) run.live = false;
  };
}

async function answer(submitted) {
  submitted.preventDefault();
  const problem = document.getElementById("answer-error");
  problem.textContent = "";
  const response = await api(`/runs/${encodeURIComponent(runId)}/resume`, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({answer: document.getElementById("answer").value}),
  });
  const body = await response.json();
  if (!response.ok) {
    problem.textContent = body.detail || ("refused: " + response.status);
    return;
  }
  document.getElementById("answer").value = "";
  document.getElementById("question").hidden = true;
  showState(body);
  follow();
}

async function loadGraph() {
  document.getElementById("graph").src = `/runs/${encodeURIComponent(runId)}/graph.svg`;
  const response = await api(`/runs/${encodeURIComponent(runId)}/graph`);
  if (response.ok) document.getElementById("mermaid").textContent = (await response.json()).mermaid;
}

document.getElementById("answer-form").addEventListener("submit", answer);
refreshState().then(() => { follow(); loadGraph(); });
setInterval(() => { if (run.live) drawTimeline(); }, 500);
