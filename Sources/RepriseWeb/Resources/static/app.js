// Reprise's web UI: the browser player, copy buttons and live player pages. Every form works without it.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";

  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("button.copy").forEach((b) => b.addEventListener("click", () => {
    const el = document.getElementById(b.dataset.copy);
    if (el && navigator.clipboard) navigator.clipboard.writeText(el.textContent).then(() => { b.textContent = "Copied"; });
  }));

  // The browser player: a queue of the page's songs, fed to <audio> from /stream (the session cookie authorizes it).
  const audio = document.getElementById("audio");
  const box = document.getElementById("audio-player");
  let queue = [], index = -1;
  function rows() { return Array.from(document.querySelectorAll("tr[data-song]")).map((r) => ({ id: r.dataset.song, title: r.dataset.title, artist: r.dataset.artist })); }
  function play(i) {
    if (!audio || i < 0 || i >= queue.length) return;
    index = i;
    const s = queue[i];
    audio.src = "/stream/" + encodeURIComponent(s.id);
    document.getElementById("audio-title").textContent = s.title;
    document.getElementById("audio-artist").textContent = s.artist;
    box.hidden = false;
    audio.play().catch(() => {});
  }
  function start(list, i) { queue = list; play(i); }
  const all = document.getElementById("play-all");
  if (all) all.addEventListener("click", () => start(rows(), 0));
  document.querySelectorAll("button.play-one").forEach((b) => b.addEventListener("click", () => {
    const list = rows();
    start(list, Math.max(0, list.findIndex((s) => s.id === b.dataset.play)));
  }));
  if (audio) {
    document.getElementById("audio-next").addEventListener("click", () => play(index + 1));
    document.getElementById("audio-prev").addEventListener("click", () => play(Math.max(0, index - 1)));
    audio.addEventListener("ended", () => {
      const s = queue[index];
      if (s) fetch("/web/played", { method: "POST", headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" }, body: "song_id=" + encodeURIComponent(s.id) });
      play(index + 1);
    });
  }

  // Live player page: server-sent events replace the state, title, time and queue as they change.
  const live = document.getElementById("player-live");
  if (live && window.EventSource) {
    const name = live.dataset.player;
    const events = new EventSource("/players/" + encodeURIComponent(name) + "/events");
    events.addEventListener("state", (e) => {
      const s = JSON.parse(e.data);
      document.getElementById("p-state").textContent = s.state + (s.connected ? "" : " (down)");
      document.getElementById("p-title").textContent = s.title ? s.title + " · " + s.artist : "";
      const m = Math.floor(s.elapsed_s / 60), sec = s.elapsed_s % 60;
      document.getElementById("p-time").textContent = m + ":" + (sec < 10 ? "0" : "") + sec;
      const cover = document.getElementById("p-cover");
      if (cover && s.song_id) cover.src = "/covers/song/" + s.song_id + "?size=160";
      const ol = document.getElementById("p-queue");
      ol.replaceChildren(...s.queue.map((t, i) => {
        const li = document.createElement("li");
        li.textContent = t;
        if (i === s.position) { li.className = "current"; li.setAttribute("aria-current", "true"); }
        return li;
      }));
      const vol = document.getElementById("volume");
      if (vol && s.volume != null && document.activeElement !== vol) vol.value = s.volume;
    });
  }
})();
