// The page at GET /: ranks through POST /v1/rerank and renders GET /openapi.json as a reference.
// Talks to this service only; builds every element with textContent (no HTML from data).
"use strict";

const hasFeatureStore = document.body.dataset.featureStore === "true";

// What the user typed in each mode, so that switching modes keeps both.
const typed = { documents: "", document_ids: "" };
let mode = "documents";

function element(tag, properties = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(properties)) {
    if (key === "class") node.className = value;
    else node[key] = value;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function lines(text) {
  return text.split("\n").map((line) => line.trim()).filter((line) => line.length > 0);
}

// ---- The service's information -------------------------------------------------------------

async function showInfo() {
  const model = document.getElementById("model");
  try {
    const response = await fetch("/info");
    const info = await response.json();
    const parts = [info.ready ? info.model_id : "model loading…"];
    if (info.model_dtype) parts.push(info.model_dtype);
    parts.push(`up to ${info.max_client_batch_size} texts a request`);
    if (hasFeatureStore) parts.push("feature store");
    parts.push(`service ${info.version}`);
    model.textContent = parts.join(" · ");
  } catch (error) {
    model.textContent = `GET /info failed: ${error.message}`;
  }
}

// ---- The form -------------------------------------------------------------------------------

function setMode(next) {
  const passages = document.getElementById("passages");
  typed[mode] = passages.value;
  mode = next;
  passages.value = typed[mode];
  document.getElementById("passages-label").textContent =
    mode === "documents" ? "Passages, one a line" : "Stored passage ids, one a line";
}

function showError(type, message) {
  document.getElementById("error-type").textContent = type;
  document.getElementById("error-message").textContent = message;
  document.getElementById("error").hidden = false;
}

function clearResult() {
  document.getElementById("error").hidden = true;
  document.getElementById("note").hidden = true;
  document.getElementById("results").replaceChildren();
}

// Bar lengths: probabilities as they are; iterative-inference scores (more than 20 passages),
// which order the passages but are not probabilities, spread between the lowest and the highest.
function barFractions(scores) {
  if (scores.every((score) => score >= 0 && score <= 1)) return { fractions: scores, relative: false };
  const low = Math.min(...scores);
  const high = Math.max(...scores);
  const span = high - low;
  return { fractions: scores.map((score) => (span > 0 ? (score - low) / span : 1)), relative: true };
}

function showResults(results, labels) {
  const { fractions, relative } = barFractions(results.map((result) => result.relevance_score));
  const list = document.getElementById("results");
  results.forEach((result, rank) => {
    const bar = element("span", { class: "bar" });
    bar.style.width = `${(fractions[rank] * 100).toFixed(1)}%`;
    list.append(element("li", { class: "result" }, [
      element("span", { class: "passage" }, [labels(result)]),
      element("span", { class: "meter", title: `score ${result.relevance_score}` }, [bar]),
      element("span", { class: "score" }, [result.relevance_score.toFixed(4)]),
    ]));
  });
  if (relative) {
    const note = document.getElementById("note");
    note.textContent = "More than 20 passages: iterative inference. Its scores order the passages but are not " +
      "probabilities; the bars span the lowest to the highest score.";
    note.hidden = false;
  }
}

async function rank(event) {
  event.preventDefault();
  clearResult();
  const status = document.getElementById("status");
  const items = lines(document.getElementById("passages").value);
  const body = { query: document.getElementById("query").value };
  body[mode] = items;

  const button = document.getElementById("rank");
  button.disabled = true;
  status.textContent = "Ranking…";
  const started = performance.now();
  try {
    const response = await fetch("/v1/rerank", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let answer = null;
    try { answer = JSON.parse(text); } catch { /* not JSON: shown as text below */ }
    if (!response.ok) {
      status.textContent = "";
      if (answer && typeof answer.error === "string") showError(answer.error_type || `HTTP ${response.status}`, answer.error);
      else showError(`HTTP ${response.status}`, text || response.statusText);
      return;
    }
    const labels = mode === "documents" ? (result) => items[result.index] : (result) => result.id;
    showResults(answer.results, labels);
    const milliseconds = Math.round(performance.now() - started);
    status.textContent = `${answer.results.length} ranked in ${milliseconds} ms · ${answer.usage.total_tokens} tokens`;
  } catch (error) {
    status.textContent = "";
    showError("Network", error.message);
  } finally {
    button.disabled = false;
  }
}

// ---- The API reference ------------------------------------------------------------------------

function schemaName(reference) {
  return reference.split("/").pop();
}

// A schema in a few words: "string", "integer ≥ 0", "array of Rank", "Right | Left", "string | null".
function describe(schema) {
  if (!schema) return "";
  if (schema.$ref) return schemaName(schema.$ref);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  if (schema.oneOf) return schema.oneOf.map(describe).join(" or ");
  const types = Array.isArray(schema.type) ? schema.type : [schema.type || "any"];
  return types.map((type) => {
    if (type === "array") return `array of ${describe(schema.items)}`;
    if (type === "object" && schema.properties) return "object";
    let words = type;
    if (schema.minimum !== undefined) words += ` ≥ ${schema.minimum}`;
    if (schema.minLength) words += " (not empty)";
    return words;
  }).join(" | ");
}

function propertyTable(schema) {
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties || {}).map(([name, property]) => {
    const notes = [];
    if (property.description) notes.push(property.description);
    if (property.default !== undefined) notes.push(`Default ${JSON.stringify(property.default)}.`);
    if (property.type === "array" && property.minItems) notes.push(`At least ${property.minItems}.`);
    return element("tr", {}, [
      element("td", {}, [element("code", {}, [name]), required.has(name) ? element("span", { class: "required", title: "required" }, ["*"]) : ""]),
      element("td", { class: "type" }, [describe(property)]),
      element("td", {}, [notes.join(" ")]),
    ]);
  });
  return element("table", { class: "properties" }, [element("tbody", {}, rows)]);
}

function renderOperation(path, method, operation) {
  const parts = [];
  for (const parameter of operation.parameters || []) {
    parts.push(element("p", {}, [
      element("code", {}, [`{${parameter.name}}`]), ` (${parameter.in}, ${describe(parameter.schema)}): `,
      parameter.description || "",
    ]));
  }
  const requestBody = operation.requestBody;
  if (requestBody) {
    const content = requestBody.content["application/json"];
    parts.push(element("h4", {}, ["Request: ", describe(content.schema)]));
    for (const [name, example] of Object.entries(content.examples || {})) {
      parts.push(element("p", { class: "example-title" }, [`Example “${name}”: ${example.summary || ""}`]));
      parts.push(element("pre", {}, [JSON.stringify(example.value, null, 2)]));
    }
  }
  parts.push(element("h4", {}, ["Responses"]));
  parts.push(element("ul", { class: "responses" }, Object.entries(operation.responses).map(([status, response]) => {
    const content = response.content && response.content["application/json"];
    return element("li", {}, [
      element("code", {}, [status]), " ", response.description,
      content && content.schema ? element("span", { class: "type" }, [" → ", describe(content.schema)]) : "",
    ]);
  })));
  if (operation.security) parts.push(element("p", { class: "muted" }, ["Requires Authorization: Bearer (--api-key)."]));

  return element("details", { class: "operation" }, [
    element("summary", {}, [
      element("span", { class: `method ${method}` }, [method.toUpperCase()]),
      element("code", { class: "path" }, [path]),
      element("span", { class: "summary" }, [operation.summary || ""]),
    ]),
    ...parts,
  ]);
}

function renderReference(document_) {
  const container = document.getElementById("operations");
  const nodes = [];
  if (document_.info && document_.info.description) nodes.push(element("p", { class: "description" }, [document_.info.description]));
  for (const [path, operations] of Object.entries(document_.paths)) {
    for (const [method, operation] of Object.entries(operations)) nodes.push(renderOperation(path, method, operation));
  }
  nodes.push(element("h3", {}, ["Schemas"]));
  for (const [name, schema] of Object.entries(document_.components.schemas)) {
    const body = [element("summary", {}, [element("code", {}, [name])])];
    if (schema.description) body.push(element("p", {}, [schema.description]));
    if (schema.properties) body.push(propertyTable(schema));
    const results = schema.properties && schema.properties.results;
    if (results && results.items && results.items.properties) {
      body.push(element("p", {}, ["Each of ", element("code", {}, ["results"]), ":"]), propertyTable(results.items));
    }
    nodes.push(element("details", { class: "schema", id: `schema-${name}` }, body));
  }
  container.replaceChildren(...nodes);
}

// The form starts from the document's own /v1/rerank examples.
function fillFromExamples(document_) {
  const examples = document_.paths["/v1/rerank"].post.requestBody.content["application/json"].examples || {};
  const byDocuments = examples.documents && examples.documents.value;
  const byIDs = examples.document_ids && examples.document_ids.value;
  if (byDocuments) {
    document.getElementById("query").value = byDocuments.query;
    typed.documents = byDocuments.documents.map((d) => (typeof d === "string" ? d : d.text)).join("\n");
    document.getElementById("passages").value = typed.documents;
  }
  if (byIDs) typed.document_ids = byIDs.document_ids.join("\n");
}

async function showReference() {
  try {
    const response = await fetch("/openapi.json");
    const document_ = await response.json();
    renderReference(document_);
    fillFromExamples(document_);
  } catch (error) {
    document.getElementById("operations").textContent = `GET /openapi.json failed: ${error.message}`;
  }
  document.body.dataset.ready = "true";
}

document.getElementById("source").hidden = !hasFeatureStore;
for (const radio of document.querySelectorAll('input[name="source"]')) {
  radio.addEventListener("change", () => setMode(radio.value));
}
document.getElementById("rerank-form").addEventListener("submit", rank);
showInfo();
showReference();
