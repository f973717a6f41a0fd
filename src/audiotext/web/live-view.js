// The Live view: the microphone's text, turn by turn, as it is spoken.
import { LiveTranscription } from "./live.js";
import { $, apiKey, clock, state } from "./shared.js";

// --- live ------------------------------------------------------------------------------

export function liveTurn(id) {
  let item = document.querySelector(`#live-turns li[data-item="${CSS.escape(id)}"]`);
  if (!item) {
    item = document.createElement("li");
    item.className = "segment turn open";
    item.dataset.item = id;
    const time = document.createElement("span");
    time.className = "hint";
    time.textContent = clock((Date.now() - state.liveStarted) / 1000);
    const text = document.createElement("p");
    text.className = "text";
    text.style.margin = "0";
    item.append(time, text);
    $("live-turns").append(item);
    $("live-empty").hidden = true;
  }
  return item;
}

export function onLiveEvent(event) {
  if (event.type === "input_audio_buffer.speech_started") {
    liveTurn(event.item_id);
    $("live-state").textContent = "Hearing you…";
  } else if (event.type === "conversation.item.input_audio_transcription.delta") {
    liveTurn(event.item_id).querySelector(".text").textContent += event.delta;
  } else if (event.type === "conversation.item.input_audio_transcription.completed") {
    const item = liveTurn(event.item_id);
    item.classList.remove("open");
    item.querySelector(".text").textContent = event.transcript;
    if (!event.transcript) item.remove();
    $("live-state").textContent = state.live ? "Listening" : "";
  } else if (event.type === "error" && event.error.code !== "input_audio_buffer_commit_empty") {
    $("live-error").textContent = event.error.message;
  }
}

export async function startLive() {
  $("live-error").textContent = "";
  $("live-start").disabled = true;
  state.liveStarted = Date.now();
  const live = new LiveTranscription({
    key: apiKey(),
    language: $("live-language").value,
    onEvent: onLiveEvent,
    onState: (what) => {
      $("live-state").textContent = { listening: "Listening", stopped: "", failed: "" }[what] || "";
      if (what === "failed") $("live-error").textContent = "The live connection failed. Try again.";
      if (what !== "listening") {
        state.live = null;
        $("live-start").disabled = false;
        $("live-stop").disabled = true;
      }
    },
  });
  try {
    await live.start();
    state.live = live;
    $("live-stop").disabled = false;
  } catch (err) {
    live.release();
    $("live-start").disabled = false;
    $("live-error").textContent = err && err.name === "NotAllowedError"
      ? "The browser did not allow the microphone. Allow it for this page and try again."
      : `Live transcription could not start: ${err.message || err}`;
  }
}

export function stopLive() {
  if (state.live) state.live.stop();
  $("live-stop").disabled = true;
  $("live-state").textContent = "Finishing…";
}
