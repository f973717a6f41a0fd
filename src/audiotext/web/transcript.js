// A transcript: speakers to name, segments and words to click, the word under the player,
// search, downloads.
import { $, api, clock, notice, speakerClass, speakerName, state } from "./shared.js";

export function renderSpeakers() {
  const speakers = state.transcript.speakers || [];
  $("speakers").hidden = speakers.length === 0;
  $("speaker-list").replaceChildren(...speakers.map((speaker) => {
    const item = document.createElement("li");
    item.className = speakerClass(speaker.id);
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.setAttribute("aria-hidden", "true");
    const label = document.createElement("label");
    label.className = "inline grow";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `${speaker.id} (${clock(speaker.seconds)})`;
    const input = document.createElement("input");
    input.type = "text";
    input.maxLength = 64;
    input.placeholder = "Name";
    input.value = state.names[speaker.id] || "";
    input.setAttribute("aria-label", `Name for ${speaker.id}`);
    input.addEventListener("input", () => {
      const value = input.value.trim();
      if (value) state.names[speaker.id] = value;
      else delete state.names[speaker.id];
      for (const el of document.querySelectorAll(`.who[data-speaker="${CSS.escape(speaker.id)}"]`)) {
        el.textContent = speakerName(speaker.id);
      }
    });
    label.append(name, input);
    item.append(swatch, label);
    return item;
  }));
}

export function renderSegments() {
  state.words = [];
  state.current = null;
  const items = state.transcript.segments.map((segment) => {
    const item = document.createElement("li");
    item.className = "segment";
    if (segment.speaker) item.classList.add(speakerClass(segment.speaker));
    const time = document.createElement("button");
    time.type = "button";
    time.className = "time quiet";
    time.textContent = clock(segment.start);
    time.setAttribute("aria-label", `Play from ${clock(segment.start)}`);
    time.addEventListener("click", () => seek(segment.start));
    const body = document.createElement("div");
    body.className = "text";
    if (segment.speaker) {
      const who = document.createElement("div");
      who.className = "who";
      who.dataset.speaker = segment.speaker;
      who.textContent = speakerName(segment.speaker);
      body.append(who);
    }
    const line = document.createElement("p");
    line.style.margin = "0";
    const words = segment.words && segment.words.length
      ? segment.words
      : [{ word: segment.text, start: segment.start, end: segment.end }];
    for (const word of words) {
      const span = document.createElement("span");
      span.className = "word";
      span.textContent = word.word;
      span.dataset.start = word.start;
      span.addEventListener("click", () => seek(word.start));
      line.append(span);
      state.words.push({ start: word.start, end: word.end, el: span });
    }
    body.append(line);
    item.append(time, body);
    item.dataset.text = segment.text.toLowerCase();
    return item;
  });
  $("segments").replaceChildren(...items);
  search();
}

export function seek(seconds) {
  const player = $("player");
  player.currentTime = seconds;
  player.play().catch(() => { /* a player may refuse to start without a gesture */ });
}

// The word under the player's position, found by bisection (words are in time order).
export function highlight() {
  const t = $("player").currentTime;
  const words = state.words;
  let low = 0;
  let high = words.length - 1;
  let found = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (words[middle].start <= t) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  const word = found !== null && t < words[found].end + 0.3 ? words[found].el : null;
  if (word === state.current) return;
  if (state.current) {
    state.current.classList.remove("current");
    state.current.removeAttribute("aria-current");
  }
  state.current = word;
  if (word) {
    word.classList.add("current");
    word.setAttribute("aria-current", "true");
  }
}

export function search() {
  const query = $("search").value.trim().toLowerCase();
  let count = 0;
  let first = null;
  for (const { el } of state.words) {
    const hit = query !== "" && el.textContent.toLowerCase().includes(query);
    el.classList.toggle("match", hit);
    if (hit) {
      count += 1;
      first = first || el;
    }
  }
  $("search-count").textContent = query
    ? count ? `${count} match${count === 1 ? "" : "es"}` : "No matches."
    : "";
  if (first) first.scrollIntoView({ block: "nearest" });
}

export async function download(format) {
  const id = state.job.id;
  const query = new URLSearchParams({ format });
  if (Object.keys(state.names).length) query.set("speaker_names", JSON.stringify(state.names));
  try {
    const blob = await (await api(`/api/v1/job/${id}/transcript?${query}`)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    const base = state.job.filename.replace(/\.[^.]+$/, "") || "transcript";
    link.download = `${base}.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (err) {
    notice(`The download failed: ${err.message}`);
  }
}

export async function copyText() {
  const segments = state.transcript.segments;
  const text = segments.map((s) => (s.speaker ? `${speakerName(s.speaker)}: ` : "") + s.text.trim())
    .join("\n");
  try {
    await navigator.clipboard.writeText(text);
    notice("The transcript was copied.");
  } catch (_) {
    notice("This browser did not allow copying. Select the text and copy it instead.");
  }
}
