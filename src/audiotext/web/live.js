// The Live view: the microphone, streamed to /v1/realtime, with text as it is spoken.
const RATE = 24000;

export class LiveTranscription {
  constructor({ key, language, onEvent, onState }) {
    this.key = key;
    this.language = language;
    this.onEvent = onEvent;
    this.onState = onState;
  }

  async start() {
    if (!navigator.mediaDevices || !window.AudioWorkletNode) {
      throw new Error("the microphone needs a secure page (https, or localhost)");
    }
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.context = new AudioContext({ sampleRate: RATE });
    await this.context.audioWorklet.addModule("/app/mic-worklet.js");
    const source = this.context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.context, "pcm-capture");
    source.connect(this.capture);
    // Connected to the output (silenced), so the browser keeps pulling audio through it.
    const mute = new GainNode(this.context, { gain: 0 });
    this.capture.connect(mute).connect(this.context.destination);
    // A context made after an await may start suspended: the capture runs only once resumed.
    await this.context.resume();

    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ intent: "transcription" });
    if (this.key) query.set("token", this.key);
    this.socket = new WebSocket(`${scheme}://${location.host}/v1/realtime?${query}`);
    this.socket.onmessage = (message) => this.onEvent(JSON.parse(message.data));
    this.socket.onclose = () => {
      this.release();
      this.onState("stopped");
    };
    this.socket.onerror = () => this.onState("failed");
    await new Promise((resolve, reject) => {
      this.socket.onopen = resolve;
      setTimeout(() => reject(new Error("The live service did not answer.")), 10_000);
    });
    const transcription = this.language ? { language: this.language } : {};
    this.send({
      type: "session.update",
      session: { type: "transcription", audio: { input: { transcription } } },
    });
    this.capture.port.onmessage = (message) => {
      this.send({ type: "input_audio_buffer.append", audio: toBase64(message.data) });
    };
    this.onState("listening");
  }

  send(event) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(event));
    }
  }

  // Stop listening; what was said last is still transcribed before the socket closes.
  stop() {
    this.release();
    this.send({ type: "input_audio_buffer.commit" });
    setTimeout(() => this.socket && this.socket.close(), 4000);
  }

  release() {
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    if (this.context && this.context.state !== "closed") this.context.close();
    this.stream = null;
    this.context = null;
  }
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}
