// Uploads: the file picked or dropped, checked before a byte is sent, then multipart or a
// presigned PUT, with a real progress bar.
import {
  $, ApiError, KEY_STORE, STATUS_WORDS, api, askForKey, authHeaders, bytes, getJson, showError, state,
} from "./shared.js";
import { loadJobs } from "./jobs.js";

export async function loadModels() {
  const select = $("model");
  select.replaceChildren();
  try {
    const models = (await getJson("/v1/models")).data.filter((m) => m.id !== "whisper-1");
    for (const model of models) select.append(new Option(model.id, model.id));
    select.value = state.options.default_model;
  } catch (_) {
    select.append(new Option(state.options.default_model, state.options.default_model));
  }
}

export function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

export function contentTypeOf(file) {
  const known = { mp3: "audio/mpeg", wav: "audio/wav", flac: "audio/flac", m4a: "audio/mp4",
    mp4: "audio/mp4", aac: "audio/aac", ogg: "audio/ogg", webm: "audio/webm" };
  const type = (file.type || "").toLowerCase();
  if (state.options.upload.content_types.includes(type)) return type;
  return known[extensionOf(file.name)] || type;
}

// Why a file cannot be sent, before a byte of it is: or "" when it can.
export function refusal(file) {
  const upload = state.options.upload;
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > upload.max_bytes) {
    return `${file.name} is ${bytes(file.size)}; this server takes files up to ${bytes(upload.max_bytes)}.`;
  }
  const known = upload.extensions.includes(extensionOf(file.name));
  if (!known && !upload.content_types.includes((file.type || "").toLowerCase())) {
    return `${file.name} is not a supported audio file. Use ${upload.extensions.join(", ")}.`;
  }
  return "";
}

export function chosenFile() {
  return state.dropped || $("file-input").files[0] || null;
}

export function pickFile(file) {
  state.dropped = file;
  $("file-name").textContent = file ? `${file.name} · ${bytes(file.size)}` : "";
  $("upload-error").textContent = file ? refusal(file) : "";
}

export function jobFields() {
  const fields = {
    model: $("model").value || undefined,
    language: $("language").value || undefined,
    task: $("task").value,
  };
  if ($("diarize").checked) {
    fields.diarize = true;
    const low = $("min-speakers").value;
    const high = $("max-speakers").value;
    if (low) fields.min_speakers = Number(low);
    if (high) fields.max_speakers = Number(high);
  }
  return fields;
}

// XMLHttpRequest, not fetch: only it reports how far an upload has gone.
export function send(method, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => resolve(request);
    request.onerror = () => reject(new ApiError(0, "The upload was interrupted. Try again."));
    request.send(body);
  });
}

export async function answerOf(request) {
  if (request.status === 401) {
    sessionStorage.removeItem(KEY_STORE);
    askForKey("That key was not accepted. Enter a valid API key.");
  }
  let body = {};
  try {
    body = JSON.parse(request.responseText || "{}");
  } catch (_) {
    /* S3 answers in XML */
  }
  if (request.status >= 200 && request.status < 300) return body;
  const message = body.detail || (body.error && body.error.message) ||
    `The server answered ${request.status}.`;
  throw new ApiError(request.status, message);
}

export async function upload(event) {
  event.preventDefault();
  const file = chosenFile();
  const error = $("upload-error");
  if (!file) {
    error.textContent = "Choose an audio file first.";
    return;
  }
  const why = refusal(file);
  if (why) {
    error.textContent = why;
    return;
  }
  const low = Number($("min-speakers").value || 0);
  const high = Number($("max-speakers").value || 0);
  if ($("diarize").checked && low && high && low > high) {
    error.textContent = "“At least” cannot be more than “at most”.";
    return;
  }
  error.textContent = "";
  const bar = $("upload-progress");
  const status = $("upload-status");
  const button = $("upload-button");
  bar.hidden = false;
  bar.value = 0;
  button.disabled = true;
  const progress = (fraction) => {
    bar.value = Math.round(fraction * 100);
    status.textContent = `Uploading… ${bar.value}%`;
  };
  try {
    const job = state.options.upload.method === "presigned"
      ? await uploadPresigned(file, progress)
      : await uploadMultipart(file, progress);
    bar.value = 100;
    status.textContent = `Uploaded. ${file.name} is ${STATUS_WORDS[job.status].toLowerCase()}.`;
    pickFile(null);
    $("upload-form").reset();
    syncSpeakerInputs();
    state.offset = 0;
    await loadJobs();
  } catch (err) {
    status.textContent = "";
    showError(error, err);
  } finally {
    button.disabled = false;
  }
}

export async function uploadMultipart(file, progress) {
  const form = new FormData();
  for (const [name, value] of Object.entries(jobFields())) {
    if (value !== undefined) form.append(name, String(value));
  }
  form.append("file", file, file.name);
  const request = await send("POST", "/api/v1/job/transcribe", form, authHeaders(), progress);
  return answerOf(request);
}

export async function uploadPresigned(file, progress) {
  const contentType = contentTypeOf(file);
  const signed = await (await api("/api/v1/audio/presigned-url", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ filename: file.name, content_type: contentType, size: file.size }),
  })).json();
  const put = await send(signed.method, signed.upload_url, file, signed.headers, progress);
  if (put.status < 200 || put.status >= 300) {
    throw new ApiError(put.status, `Storage refused the upload (${put.status}). Try again.`);
  }
  const response = await api("/api/v1/job/transcribe", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...jobFields(), filename: file.name, url: signed.url }),
  });
  return response.json();
}

export function syncSpeakerInputs() {
  const on = $("diarize").checked;
  $("min-speakers").disabled = !on;
  $("max-speakers").disabled = !on;
}
