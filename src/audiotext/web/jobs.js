// The jobs list and one job's page: live over the WebSocket.
import {
  $, FINAL, PAGE, STATUS_WORDS, api, apiKey, clock, getJson, languageName, notice, state, when,
} from "./shared.js";
import { renderSegments, renderSpeakers } from "./transcript.js";

// --- the jobs list -----------------------------------------------------------------------

export async function loadJobs() {
  const filter = $("status-filter").value;
  const query = new URLSearchParams({ limit: PAGE, offset: state.offset });
  if (filter) query.set("status", filter);
  let page;
  try {
    page = await getJson(`/api/v1/job/read?${query}`);
  } catch (err) {
    if (err.status !== 401) notice(err.message);
    return;
  }
  state.total = page.total;
  const list = $("job-list");
  list.replaceChildren(...page.items.map(jobItem));
  const empty = $("jobs-empty");
  empty.hidden = page.items.length > 0;
  empty.textContent = filter
    ? "No jobs with this status."
    : "No jobs yet. Upload a recording to start one.";
  const last = Math.min(state.offset + page.items.length, page.total);
  $("page-info").textContent = page.total ? `${state.offset + 1}–${last} of ${page.total}` : "";
  $("prev-page").disabled = state.offset === 0;
  $("next-page").disabled = last >= page.total;
  for (const job of page.items) if (!FINAL.has(job.status)) watch(job.id);
}

export function jobItem(job) {
  const item = document.createElement("li");
  item.className = "job";
  item.dataset.id = job.id;
  fillJobItem(item, job);
  return item;
}

export function fillJobItem(item, job) {
  const link = document.createElement("a");
  link.href = `#/jobs/${job.id}`;
  link.textContent = job.filename;
  const badge = document.createElement("span");
  badge.className = `badge ${job.status}`;
  badge.textContent = STATUS_WORDS[job.status] || job.status;
  const meta = document.createElement("span");
  meta.className = "meta";
  const parts = [job.model, when(job.creation_date)];
  if (job.audio_duration_seconds) parts.unshift(clock(job.audio_duration_seconds));
  meta.textContent = parts.join(" · ");
  const children = [link, badge, meta];
  if (!FINAL.has(job.status)) {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = job.progress;
    bar.setAttribute("aria-label", `Progress of ${job.filename}`);
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "danger";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel ${job.filename}`);
    cancel.addEventListener("click", () => cancelJob(job.id));
    children.push(bar, cancel);
    const text = state.live.get(job.id);
    if (text) {
      const live = document.createElement("span");
      live.className = "live";
      live.textContent = text;
      children.push(live);
    }
  } else if (job.status === "failed" && job.error_message) {
    const why = document.createElement("span");
    why.className = "meta error";
    why.textContent = job.error_message;
    children.push(why);
  }
  item.replaceChildren(...children);
}

export async function cancelJob(id) {
  try {
    await api(`/api/v1/job/${id}`, { method: "DELETE" });
    notice("The job was cancelled.");
  } catch (err) {
    notice(err.status === 409 ? "That job has already finished." : err.message);
  }
  await refresh();
}

// --- live updates ------------------------------------------------------------------------

export function watch(id) {
  if (state.sockets.has(id)) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const key = apiKey();
  const query = key ? `?token=${encodeURIComponent(key)}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/job/ws/${id}${query}`);
  state.sockets.set(id, socket);
  socket.onmessage = (message) => {
    const job = JSON.parse(message.data);
    if (job.segment && job.segment.text) {
      state.live.set(id, ((state.live.get(id) || "") + job.segment.text).slice(-400));
    }
    updateJob(job);
  };
  socket.onclose = () => {
    state.sockets.delete(id);
  };
}

export function closeSockets() {
  for (const socket of state.sockets.values()) socket.close();
  state.sockets.clear();
}

export function updateJob(job) {
  const item = document.querySelector(`#job-list li[data-id="${CSS.escape(job.id)}"]`);
  if (item) fillJobItem(item, job);
  if (state.job && state.job.id === job.id) showJobState(job);
  if (FINAL.has(job.status)) {
    state.live.delete(job.id);
    if (state.job && state.job.id === job.id && job.status === "completed") openJob(job.id);
  }
}

export async function refresh() {
  if (state.job) await openJob(state.job.id);
  else await loadJobs();
}

// --- one job and its transcript ----------------------------------------------------------

export function showJobState(job) {
  state.job = job;
  $("job-title").textContent = job.filename;
  const meta = [job.model];
  if (job.audio_duration_seconds) meta.push(clock(job.audio_duration_seconds));
  if (job.language) meta.push(languageName(job.language));
  if (job.speakers) meta.push(`${job.speakers} speaker${job.speakers === 1 ? "" : "s"}`);
  if (job.shards) meta.push(`${job.shards.succeeded}/${job.shards.total} shards`);
  meta.push(when(job.creation_date));
  $("job-meta").textContent = meta.join(" · ");
  const running = !FINAL.has(job.status);
  $("job-progress").hidden = !running;
  $("job-progress").value = job.progress;
  $("job-status").textContent = running
    ? `${STATUS_WORDS[job.status]}… ${job.progress}%`
    : STATUS_WORDS[job.status];
  $("job-cancel").hidden = !running;
  $("job-live").textContent = running ? state.live.get(job.id) || "" : "";
  $("job-error").textContent = job.status === "failed"
    ? `The transcription failed: ${job.error_message || "no reason was given"}.`
    : job.status === "cancelled" ? "This job was cancelled." : "";
}

export async function openJob(id) {
  let job;
  try {
    job = await getJson(`/api/v1/job/status/${encodeURIComponent(id)}`);
  } catch (err) {
    $("job-title").textContent = "Job not found";
    $("job-error").textContent = err.status === 404
      ? "There is no such job, or it belongs to another key."
      : err.message;
    return;
  }
  const fresh = !state.job || state.job.id !== id || !state.transcript;
  showJobState(job);
  if (job.status !== "completed") {
    $("transcript-tools").hidden = true;
    $("segments").replaceChildren();
    state.transcript = null;
    watch(id);
    return;
  }
  if (!fresh) return;
  state.transcript = await getJson(`/api/v1/job/${id}/transcript?format=json`);
  state.names = {};
  await setAudio(id);
  renderSpeakers();
  renderSegments();
  $("transcript-tools").hidden = false;
  // Speaker turns only exist where the job said who spoke.
  const rttm = document.querySelector('[data-format="rttm"]');
  if (rttm) rttm.hidden = !state.transcript.speakers;
}

export async function setAudio(id) {
  let src = `/api/v1/job/${id}/audio`;
  if (state.options.auth) {
    try {
      src = (await (await api(`/api/v1/job/${id}/audio-link`, { method: "POST" })).json()).url;
    } catch (err) {
      notice(`The audio cannot be played: ${err.message}`);
    }
  }
  $("player").src = src;
}
