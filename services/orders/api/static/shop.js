// The catalogue page: lists GET /products and places an order with POST /orders.
"use strict";

const form = document.getElementById("order-form");
const body = document.querySelector("#catalogue tbody");
const problems = document.getElementById("problems");
const totalText = document.getElementById("total");
let prices = {};

// One key per order the customer means to place: a retry of the same order after a network
// error reuses it (the API answers with the first order), a changed order gets a new one.
let pending = { request: null, key: null };

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showProblems(lines) {
  problems.replaceChildren(
    ...lines.map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }),
  );
}

function productRow(product) {
  const row = document.createElement("tr");
  const input = document.createElement("input");
  Object.assign(input, { type: "number", min: "0", max: "1000", value: "0", step: "1" });
  input.dataset.sku = product.sku;
  input.setAttribute("aria-label", `Quantity of ${product.name}`);
  const quantity = cell("", "num");
  quantity.append(input);
  row.append(
    cell(product.name),
    cell(product.sku, "sku"),
    cell(`${product.unit_price} ${product.currency}`, "num"),
    quantity,
  );
  return row;
}

function chosenLines() {
  return Array.from(form.querySelectorAll("input[data-sku]"))
    .map((input) => ({ sku: input.dataset.sku, quantity: Number(input.value) }))
    .filter((line) => Number.isInteger(line.quantity) && line.quantity > 0);
}

function updateTotal() {
  const cents = chosenLines().reduce(
    (sum, line) => sum + Math.round(Number(prices[line.sku]) * 100) * line.quantity,
    0,
  );
  totalText.textContent = `Total: ${(cents / 100).toFixed(2)}`;
}

async function loadCatalogue() {
  const response = await fetch("/products", { headers: { Accept: "application/json" } });
  const products = await response.json();
  prices = Object.fromEntries(products.map((p) => [p.sku, p.unit_price]));
  body.replaceChildren(...products.map(productRow));
}

function describe(answer, status) {
  if (!answer || !Array.isArray(answer.errors)) return [`The order was not placed (HTTP ${status}).`];
  const details = answer.errors.map((e) => `${e.field}: ${e.problem}`);
  return [answer.message, ...details];
}

async function placeOrder(event) {
  event.preventDefault();
  const lines = chosenLines();
  if (lines.length === 0) {
    showProblems(["Choose a quantity for at least one product."]);
    return;
  }
  const request = JSON.stringify({ customer_email: form.customer_email.value.trim(), lines });
  if (pending.request !== request) pending = { request, key: newKey() };
  showProblems([]);
  form.querySelector("button").disabled = true;
  try {
    const response = await fetch("/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": pending.key },
      body: request,
    });
    if (response.status === 202) {
      window.location.assign(response.headers.get("Location"));
      return;
    }
    const answer = await response.json().catch(() => null);
    showProblems(describe(answer, response.status));
  } catch (error) {
    showProblems([`The shop did not answer (${error.message}); try again, it is safe.`]);
  } finally {
    form.querySelector("button").disabled = false;
  }
}

form.addEventListener("submit", placeOrder);
form.addEventListener("input", updateTotal);
loadCatalogue().catch((error) => showProblems([`Could not load the catalogue: ${error.message}`]));
