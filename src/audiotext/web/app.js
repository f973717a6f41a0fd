// AudioText web app: upload, watch jobs move, read and listen to transcripts, transcribe live.
// Plain modules, no build step: everything it needs comes from this server.
import { cancelJob, closeSockets, loadJobs, openJob } from "./jobs.js";
import { startLive, stopLive } from "./live-view.js";
import {
  $, PAGE, apiKey, askForKey, bytes, hooks, languageName, notice, state, submitKey,
} from "./shared.js";
import { copyText, download, highlight, search } from "./transcript.js";
import { loadModels, pickFile, syncSpeakerInputs, upload } from "./upload.js";

// --- options and upload ------------------------------------------------------------------

async function loadOptions() {
  const response = await fetch("/api/v1/options").catch(() => null);
  if (!response || !response.ok) {
    notice("The server cannot be reached. Reload the page to try again.");
    return;
  }
  state.options = await response.json();
  const upload = state.options.upload;
  $("file-hint").textContent =
    `${upload.extensions.join(", ")} · up to ${bytes(upload.max_bytes)}`;
  $("key-button").hidden = !state.options.auth;
  for (const code of state.options.languages) {
    $("language").append(new Option(languageName(code), code));
    $("live-language").append(new Option(languageName(code), code));
  }
  for (const id of ["min-speakers", "max-speakers"]) $(id).max = state.options.diarization.max_speakers;
  $("download-buttons").replaceChildren(...state.options.output_formats.map((format) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quiet";
    button.dataset.format = format;
    button.textContent = format;
    button.addEventListener("click", () => download(format));
    return button;
  }));
  if (state.options.auth && !apiKey()) await askForKey("", true);
  await loadModels();
}

// --- views -------------------------------------------------------------------------------

async function route() {
  const match = location.hash.match(/^#\/jobs\/([\w-]+)$/);
  const live = location.hash === "#/live";
  $("home-view").hidden = Boolean(match) || live;
  $("job-view").hidden = !match;
  $("live-view").hidden = !live;
  $("live-link").toggleAttribute("aria-current", live);
  if (live) $("live-link").setAttribute("aria-current", "page");
  notice("");
  if (live) {
    $("live-title").focus();
    return;
  }
  if (match) {
    if (!state.job || state.job.id !== match[1]) {
      state.job = null;
      state.transcript = null;
      $("segments").replaceChildren();
      $("transcript-tools").hidden = true;
      $("search").value = "";
    }
    await openJob(match[1]);
    $("job-title").focus?.();
  } else {
    state.job = null;
    state.transcript = null;
    $("player").removeAttribute("src");
    await loadJobs();
  }
}

function bind() {
  $("upload-form").addEventListener("submit", upload);
  $("file-input").addEventListener("change", () => pickFile($("file-input").files[0] || null));
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) pickFile(file);
  });
  $("diarize").addEventListener("change", syncSpeakerInputs);
  $("status-filter").addEventListener("change", () => {
    state.offset = 0;
    loadJobs();
  });
  $("prev-page").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE);
    loadJobs();
  });
  $("next-page").addEventListener("click", () => {
    state.offset += PAGE;
    loadJobs();
  });
  $("job-cancel").addEventListener("click", () => state.job && cancelJob(state.job.id));
  $("player").addEventListener("timeupdate", highlight);
  $("player").addEventListener("seeked", highlight);
  $("search").addEventListener("input", search);
  $("copy-text").addEventListener("click", copyText);
  $("key-form").addEventListener("submit", submitKey);
  $("key-dialog").addEventListener("cancel", (event) => {
    if (!apiKey()) event.preventDefault(); // nothing works without a key
  });
  $("key-button").addEventListener("click", () => askForKey());
  $("live-start").addEventListener("click", startLive);
  $("live-stop").addEventListener("click", stopLive);
  window.addEventListener("hashchange", route);
}

hooks.keyAccepted = (awaited) => {
  closeSockets();
  if (!awaited) route();
};
bind();
loadOptions().then(route);
