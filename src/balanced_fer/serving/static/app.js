// balanced-fer page: upload / drop a photo or stream the webcam to POST /v1/predict, draw the answer.
"use strict";

const canvas = document.getElementById("canvas");
const context = canvas.getContext("2d");
const statusText = document.getElementById("status");
const facesList = document.getElementById("faces");
const video = document.getElementById("video");
const webcamButton = document.getElementById("webcam-button");
const WEBCAM_INTERVAL_MS = 300; // at most ~3 frames per second, one request in flight
let classes = [];
let stream = null;

function bars(scores, highlight) {
  const box = document.createElement("div");
  for (const name of classes) {
    const value = scores[name] ?? 0;
    const row = document.createElement("div");
    row.className = "bar" + (name === highlight ? " top" : "");
    row.innerHTML = `<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
    row.querySelector(".name").textContent = name;
    row.querySelector(".fill").style.width = `${(100 * value).toFixed(1)}%`;
    row.querySelector(".value").textContent = `${(100 * value).toFixed(1)}%`;
    box.appendChild(row);
  }
  return box;
}

async function loadModelInfo() {
  const response = await fetch("/v1/models");
  const model = (await response.json()).models[0];
  classes = model.classes;
  const figures = model.validation || {};
  const mca = figures.mean_class_accuracy ? `, validation mean class accuracy ${(100 * figures.mean_class_accuracy).toFixed(1)}%` : "";
  document.getElementById("model-info").textContent = `model ${model.name} (${model.version})${mca}`;
  const total = Object.values(model.train_counts).reduce((a, b) => a + b, 0) || 1;
  const shares = Object.fromEntries(Object.entries(model.train_counts).map(([k, v]) => [k, v / total]));
  document.getElementById("distribution").replaceChildren(bars(shares, null));
}

function draw(source, faces) {
  document.getElementById("placeholder").hidden = true;
  canvas.hidden = false;
  canvas.width = source.videoWidth || source.naturalWidth || source.width;
  canvas.height = source.videoHeight || source.naturalHeight || source.height;
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  const line = Math.max(2, canvas.width / 300);
  context.lineWidth = line;
  context.font = `${Math.max(14, canvas.width / 40)}px system-ui, sans-serif`;
  for (const face of faces) {
    const [x, y, w, h] = face.box;
    context.strokeStyle = "#e2582a";
    context.strokeRect(x, y, w, h);
    const text = `${face.label} ${(100 * face.scores[face.label]).toFixed(0)}%`;
    const width = context.measureText(text).width + 2 * line;
    const height = parseInt(context.font, 10) * 1.3;
    const top = y > height ? y - height : y + h;
    context.fillStyle = "#e2582a";
    context.fillRect(x, top, width, height);
    context.fillStyle = "#fff";
    context.fillText(text, x + line, top + height * 0.8);
  }
}

function showFaces(faces) {
  facesList.replaceChildren(...faces.map((face) => {
    const item = document.createElement("li");
    item.className = "face";
    const title = document.createElement("strong");
    title.textContent = face.label;
    item.append(title, bars(face.scores, face.label));
    return item;
  }));
  document.getElementById("faces-heading").hidden = false;
  statusText.textContent = faces.length === 1 ? "1 face" : `${faces.length} faces`;
  canvas.dataset.faces = String(faces.length);
}

async function predict(blob) {
  const body = new FormData();
  body.append("image", blob, "image.jpg");
  const response = await fetch("/v1/predict", { method: "POST", body });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.detail || `HTTP ${response.status}`);
  return answer;
}

async function analyseFile(file) {
  stopWebcam();
  statusText.textContent = "analysing…";
  const image = new Image();
  image.src = URL.createObjectURL(file);
  try {
    await image.decode();
    const answer = await predict(file);
    draw(image, answer.faces);
    showFaces(answer.faces);
    statusText.textContent += ` in ${answer.timing_ms.total.toFixed(0)} ms`;
  } catch (error) {
    statusText.textContent = `error: ${error.message}`;
    facesList.replaceChildren();
  } finally {
    URL.revokeObjectURL(image.src);
  }
}

async function webcamLoop() {
  while (stream) {
    const started = performance.now();
    const frame = document.createElement("canvas");
    frame.width = video.videoWidth;
    frame.height = video.videoHeight;
    frame.getContext("2d").drawImage(video, 0, 0);
    try {
      const blob = await new Promise((resolve) => frame.toBlob(resolve, "image/jpeg", 0.85));
      const answer = await predict(blob);
      if (!stream) break;
      draw(frame, answer.faces);
      showFaces(answer.faces);
    } catch (error) {
      statusText.textContent = `error: ${error.message}`;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, WEBCAM_INTERVAL_MS - (performance.now() - started))));
  }
}

async function startWebcam() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (error) {
    statusText.textContent = `webcam unavailable: ${error.message}`;
    return;
  }
  video.srcObject = stream;
  await video.play();
  webcamButton.textContent = "Stop the webcam";
  webcamLoop();
}

function stopWebcam() {
  if (!stream) return;
  stream.getTracks().forEach((track) => track.stop());
  stream = null;
  webcamButton.textContent = "Use the webcam";
}

document.getElementById("file-input").addEventListener("change", (event) => {
  if (event.target.files.length) analyseFile(event.target.files[0]);
});
const dropZone = document.getElementById("drop-zone");
dropZone.addEventListener("dragover", (event) => { event.preventDefault(); dropZone.classList.add("over"); });
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("over");
  if (event.dataTransfer.files.length) analyseFile(event.dataTransfer.files[0]);
});
webcamButton.addEventListener("click", () => (stream ? stopWebcam() : startWebcam()));
document.getElementById("example-button").addEventListener("click", async () => {
  const response = await fetch("/static/example.jpg");
  analyseFile(new File([await response.blob()], "example.jpg", { type: "image/jpeg" }));
});
loadModelInfo().catch((error) => { document.getElementById("model-info").textContent = `model info unavailable: ${error.message}`; });
