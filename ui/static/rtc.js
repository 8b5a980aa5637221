// WebRTC for the video link, shared by the room screen (answers) and the relative's
// page (offers). Signalling goes over the daemon's socket; media goes browser to
// browser. The last peer connection is kept on window.tryggboCall for diagnostics.

export class VideoCall {
  constructor({ iceServers, sendSignal, localVideo, remoteVideo, onState }) {
    this.sendSignal = sendSignal;
    this.localVideo = localVideo;
    this.remoteVideo = remoteVideo;
    this.onState = onState || (() => {});
    this.pending = [];
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    this.pc.addEventListener("icecandidate", (ev) => {
      if (ev.candidate) this.sendSignal({ candidate: ev.candidate.toJSON() });
    });
    this.pc.addEventListener("track", (ev) => {
      if (this.remoteVideo.srcObject !== ev.streams[0]) this.remoteVideo.srcObject = ev.streams[0];
    });
    this.pc.addEventListener("connectionstatechange", () => this.onState(this.pc.connectionState));
    window.tryggboCall = this;
  }

  async addMedia(stream) {
    this.stream = stream;
    this.localVideo.srcObject = stream;
    for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
  }

  async offer() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.sendSignal({ sdp: this.pc.localDescription.toJSON() });
  }

  async signal(data) {
    if (data && data.sdp) {
      await this.pc.setRemoteDescription(data.sdp);
      if (data.sdp.type === "offer") {
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        this.sendSignal({ sdp: this.pc.localDescription.toJSON() });
      }
      for (const candidate of this.pending.splice(0)) await this.pc.addIceCandidate(candidate);
    } else if (data && data.candidate) {
      if (this.pc.remoteDescription) await this.pc.addIceCandidate(data.candidate);
      else this.pending.push(data.candidate);
    }
  }

  async framesDecoded() {
    let frames = 0;
    const stats = await this.pc.getStats();
    stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0; });
    return frames;
  }

  close() {
    for (const track of this.stream ? this.stream.getTracks() : []) track.stop();
    this.pc.close();
    this.localVideo.srcObject = null;
    this.remoteVideo.srcObject = null;
    this.onState("closed");
  }
}

export async function camera() {
  return navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
}

// A socket to the daemon that sends hello with the credential first and reconnects.
export function pageSocket(path, token, { onMessage, onOpen, onClose, onRefused }) {
  let delay = 250;
  let socket = null;
  let stopped = false;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    socket.addEventListener("open", () => {
      delay = 250;
      socket.send(JSON.stringify({ type: "hello", token }));
      onOpen && onOpen();
    });
    socket.addEventListener("message", (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "error" && ["bad_token", "user_disabled", "forbidden", "invitation_invalid",
        "invitation_revoked", "invitation_expired"].includes(msg.code)) {
        stopped = true;
        onRefused && onRefused(msg);
        return;
      }
      onMessage(msg);
    });
    socket.addEventListener("close", () => {
      onClose && onClose();
      if (stopped) return;
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 5000);
    });
  };
  open();
  return {
    send(msg) {
      if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(msg)); return true; }
      return false;
    },
    get open() { return socket && socket.readyState === WebSocket.OPEN; },
  };
}
