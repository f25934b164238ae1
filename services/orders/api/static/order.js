// An order's page: the order from GET /orders/{id}, then its timeline live from
// /orders/{id}/events (Server-Sent Events). Every step has a position; the page remembers the
// last one it showed and, whenever it connects again, asks only for what came after it.
"use strict";

const orderId = decodeURIComponent(window.location.pathname.split("/")[2] || "");
const statusBadge = document.getElementById("status");
const liveBadge = document.getElementById("live");
const timeline = document.getElementById("timeline");
const problems = document.getElementById("problems");
let lastPosition = 0;
let retryDelay = 1000;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function setLive(state, text) {
  liveBadge.dataset.state = state;
  liveBadge.textContent = text;
}

function setStatus(status) {
  statusBadge.dataset.status = status;
  statusBadge.textContent = status;
}

function showOrder(order) {
  document.getElementById("customer").textContent = `For ${order.customer_email}`;
  document.querySelector("#lines tbody").replaceChildren(
    ...order.lines.map((line) => {
      const row = document.createElement("tr");
      row.append(
        cell(line.name),
        cell(line.sku, "sku"),
        cell(String(line.quantity), "num"),
        cell(line.unit_price, "num"),
        cell(line.line_total, "num"),
      );
      return row;
    }),
  );
  document.getElementById("order-total").textContent = `${order.total} ${order.currency}`;
  if (lastPosition === 0) setStatus(order.status);
}

function showStep(step) {
  if (step.position <= lastPosition) return; // already shown: a replay overlapping the live feed
  lastPosition = step.position;
  const item = document.createElement("li");
  item.dataset.position = String(step.position);
  item.dataset.status = step.status;
  const when = document.createElement("time");
  when.dateTime = step.at;
  when.textContent = new Date(step.at).toLocaleTimeString();
  const what = document.createElement("span");
  what.textContent = step.what;
  item.append(when, what);
  timeline.append(item);
  setStatus(step.status);
}

function connect() {
  // `after` serves a stream opened anew; the browser's own reconnections of this one send
  // Last-Event-ID, and the server takes whichever is larger.
  const source = new EventSource(`/orders/${encodeURIComponent(orderId)}/events?after=${lastPosition}`);
  source.addEventListener("open", () => {
    retryDelay = 1000;
    setLive("live", "live");
  });
  source.addEventListener("step", (event) => showStep(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    setLive("reconnecting", "reconnecting…");
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (an answer that was not a stream): start a new one, backing off.
      source.close();
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    }
  });
}

async function start() {
  document.getElementById("order-id").textContent = orderId;
  const response = await fetch(`/orders/${encodeURIComponent(orderId)}`, {
    headers: { Accept: "application/json" },
  });
  const answer = await response.json();
  if (!response.ok) {
    setLive("closed", "");
    const lines = (answer.errors || []).map((e) => `${e.field}: ${e.problem}`);
    problems.replaceChildren(
      ...[answer.message, ...lines].map((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        return li;
      }),
    );
    return;
  }
  showOrder(answer);
  connect();
}

start().catch((error) => setLive("reconnecting", `could not load the order: ${error.message}`));
