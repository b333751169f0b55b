// The sample app's page: loads the models the Python package ships with the browser loader hatch_tfjs.serve serves
// next to them (/models/tfjs-models.mjs reads /models/index.json and calls the TF.js loader each model needs), runs
// them on the inputs below with the locally served TensorFlow.js (the global `tf`) and shows the predictions.
// Each result element carries the exact numbers in data attributes (data-input, data-probabilities: JSON with every
// digit of the float32 outputs) so that tests can compare them with Keras.
import { listModels, loadModel } from "/models/tfjs-models.mjs";

const statusEl = document.getElementById("status");
const models = {};

function setStatus(text, state) {
  statusEl.textContent = text;
  statusEl.dataset.status = state;
}

function labelsOf(name, count) {
  const labels = models[name].labels;
  return Array.isArray(labels) && labels.length === count ? labels : [...Array(count).keys()].map(String);
}

function showProbabilities(output, name, input, probabilities) {
  const labels = labelsOf(name, probabilities.length);
  const best = probabilities.indexOf(Math.max(...probabilities));
  output.replaceChildren();
  const answer = document.createElement("div");
  answer.className = "answer";
  answer.textContent = `${labels[best]} (${(100 * probabilities[best]).toFixed(1)} %)`;
  output.append(answer);
  probabilities.forEach((p, i) => {
    const row = document.createElement("div");
    row.className = i === best ? "bar top" : "bar";
    row.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
    row.querySelector(".label").textContent = labels[i];
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(2)}%`;
    row.querySelector(".value").textContent = `${(100 * p).toFixed(1)} %`;
    output.append(row);
  });
  output.dataset.input = JSON.stringify(input);
  output.dataset.probabilities = JSON.stringify(probabilities);
  output.dataset.prediction = labels[best];
  output.dataset.status = "done";
}

async function predict(name, input, output) {
  output.dataset.status = "running";
  try {
    const batch = [input]; // a batch of one; the loader makes the tensor (and frees it)
    const result = await models[name].predict(batch);
    const probabilities = Array.from(await result.data());
    result.dispose();
    showProbabilities(output, name, batch, probabilities);
  } catch (error) {
    output.dataset.status = "error";
    output.textContent = `Prediction failed: ${error.message}`;
    console.error(error);
  }
}

// --- iris ------------------------------------------------------------------------------------------------------------

document.getElementById("iris-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const values = ["sepal_length", "sepal_width", "petal_length", "petal_width"].map((n) => Number(form.elements[n].value));
  predict("iris", values, document.getElementById("iris-result"));
});

// --- digits: an 8x8 grid of intensities in [0, 1], as the model was trained (scikit-learn's digits / 16) ----------------

const LEVELS = [0, 0.5, 1];
const pixels = Array.from({ length: 8 }, () => Array(8).fill(0));
const grid = document.getElementById("digit-grid");
const cells = [];
const EXAMPLES = {
  0: ["..####..", ".##..##.", ".#....#.", "##....##", "##....##", ".#....#.", ".##..##.", "..####.."],
  1: ["...##...", "..###...", ".####...", "...##...", "...##...", "...##...", "...##...", ".######."],
  7: [".######.", ".#####+.", "....+#..", "...+#+..", "...##...", "..+#+...", "..##....", "..#+...."],
};

function paint() {
  pixels.forEach((row, r) => row.forEach((v, c) => {
    const shade = Math.round(255 * (1 - v));
    cells[r][c].style.background = `rgb(${shade}, ${shade}, ${shade})`;
    cells[r][c].dataset.value = String(v);
  }));
}

let drawing = false;
for (let r = 0; r < 8; r++) {
  cells.push([]);
  for (let c = 0; c < 8; c++) {
    const cell = document.createElement("button");
    cell.type = "button";
    cell.className = "cell";
    cell.dataset.row = r;
    cell.dataset.col = c;
    cell.setAttribute("aria-label", `row ${r + 1} column ${c + 1}`);
    cell.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      drawing = true;
      pixels[r][c] = LEVELS[(LEVELS.indexOf(pixels[r][c]) + LEVELS.length - 1) % LEVELS.length]; // 0 -> 1 -> 0.5 -> 0
      paint();
    });
    cell.addEventListener("pointerenter", () => {
      if (drawing && pixels[r][c] === 0) {
        pixels[r][c] = 1;
        paint();
      }
    });
    grid.append(cell);
    cells[r].push(cell);
  }
}
window.addEventListener("pointerup", () => { drawing = false; });

document.querySelectorAll("[data-example]").forEach((button) => button.addEventListener("click", () => {
  EXAMPLES[button.dataset.example].forEach((line, r) => [...line].forEach((ch, c) => {
    pixels[r][c] = ch === "#" ? 1 : ch === "+" ? 0.5 : 0;
  }));
  paint();
}));
document.getElementById("digit-clear").addEventListener("click", () => {
  pixels.forEach((row) => row.fill(0));
  paint();
});
document.getElementById("digit-predict").addEventListener("click", () => {
  predict("digits", pixels.map((row) => row.map((v) => [v])), document.getElementById("digit-result"));
});
paint();

// --- start -------------------------------------------------------------------------------------------------------------

async function start() {
  const backend = new URLSearchParams(location.search).get("backend");
  if (backend) {
    await tf.setBackend(backend);
  }
  await tf.ready();
  const available = await listModels();
  for (const info of available) {
    models[info.name] = await loadModel(info.name); // tf.loadLayersModel or tf.loadGraphModel, as the index says
  }
  for (const name of ["iris", "digits"]) {
    if (!models[name]) {
      throw new Error(`the package ships no model "${name}" (it has: ${Object.keys(models).join(", ") || "none"})`);
    }
  }
  document.getElementById("iris-predict").disabled = false;
  document.getElementById("digit-predict").disabled = false;
  statusEl.dataset.backend = tf.getBackend();
  setStatus(`Ready: ${available.length} models loaded with TensorFlow.js ${tf.version.tfjs} (${tf.getBackend()} backend).`, "ready");
  document.getElementById("about").textContent = available
    .map((m) => `${m.name}: ${m.format} model, ${(m.bytes / 1024).toFixed(1)} KiB`)
    .join(" · ");
}

start().catch((error) => {
  setStatus(`Could not load the models: ${error.message}`, "error");
  console.error(error);
});
