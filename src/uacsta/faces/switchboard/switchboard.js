// The uacsta switchboard: a receptionist console built only on the public
// JSON API (the WebSocket face of docs/clients.md).  One monitor per device,
// a tile per device updated in place from its events, and the call controls
// of the receptionist's own phone.
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const MONITOR_AT_ONCE = 32; // MonitorStart requests in flight while logging in

  const board = {
    ws: null,
    user: "",
    password: "",
    session: null,
    seq: 0,
    nextId: 1,
    waiting: new Map(), // request id -> {resolve, reject}
    devices: new Map(), // number -> device
    byXref: new Map(), // monitorCrossRefID -> device
    me: null, // the receptionist's own device
    mode: null, // "blind" | "consult" while a transfer target is being picked
    closing: false,
    listing: [],
  };

  // -- the WebSocket face ---------------------------------------------------------

  function wsUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/ws";
  }

  function open(resume) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl());
      let welcomed = false;
      ws.onopen = () => {
        const login = { op: "login", user: board.user, password: board.password };
        if (resume && board.session) login.resume = { session: board.session, seq: board.seq };
        ws.send(JSON.stringify(login));
      };
      ws.onmessage = (message) => {
        const frame = JSON.parse(message.data);
        if (!welcomed) {
          if (frame.op !== "welcome") {
            reject(new Error(frame.reason || "refused"));
            ws.close();
            return;
          }
          welcomed = true;
          board.ws = ws;
          board.session = frame.session;
          if (!resume) board.seq = frame.seq;
          connection("up");
          resolve();
          return;
        }
        receive(frame);
      };
      ws.onclose = () => {
        if (!welcomed) {
          reject(new Error("the server closed the connection"));
          return;
        }
        if (board.ws === ws) lost();
      };
    });
  }

  function receive(frame) {
    if (frame.op === "event") {
      if (frame.seq <= board.seq) return; // seen before a resume
      board.seq = frame.seq;
      onEvent(frame.csta, frame.call || null);
    } else if (frame.op === "response" || frame.op === "error") {
      const waiter = board.waiting.get(frame.id);
      if (!waiter) return;
      board.waiting.delete(frame.id);
      if (frame.op === "error") waiter.reject(new Error(frame.reason));
      else if (frame.csta.type === "CSTAErrorCode")
        waiter.reject(new Error(`${frame.csta.category}: ${frame.csta.value || ""}`));
      else waiter.resolve(frame);
    }
  }

  function request(csta) {
    return new Promise((resolve, reject) => {
      if (!board.ws || board.ws.readyState !== WebSocket.OPEN) {
        reject(new Error("not connected"));
        return;
      }
      const id = board.nextId++;
      board.waiting.set(id, { resolve, reject });
      board.ws.send(JSON.stringify({ op: "request", id, csta }));
    });
  }

  async function lost() {
    board.ws = null;
    for (const waiter of board.waiting.values()) waiter.reject(new Error("connection lost"));
    board.waiting.clear();
    if (board.closing) return;
    connection("down");
    for (let attempt = 0; attempt < 30 && !board.closing; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2000)));
      try {
        await open(true); // the session resumes: monitors and missed events kept
        say("connection back");
        return;
      } catch (error) {
        if (/resume/.test(String(error.message))) break; // the server cannot resume
      }
    }
    if (!board.closing) {
      say("the session was lost: logging in again");
      reset();
      try {
        await open(false);
        await start();
      } catch (error) {
        say(`cannot log in again: ${error.message}`);
      }
    }
  }

  function connection(state) {
    const el = $("#connection");
    el.dataset.state = state;
    el.textContent = state === "up" ? "connected" : "reconnecting";
  }

  // -- devices and tiles ------------------------------------------------------------

  function numberOf(id) {
    return String(id).replace(/^sips?:/, "").split("@")[0];
  }

  function device(id) {
    const number = numberOf(id);
    let d = board.devices.get(number);
    if (d) return d;
    d = { id, number, xref: null, calls: new Map(), dnd: false, forward: null, online: true };
    const li = document.createElement("li");
    const tile = document.createElement("button");
    tile.type = "button";
    tile.className = "tile";
    tile.dataset.device = number;
    tile.dataset.state = "idle";
    tile.innerHTML = '<b></b><span class="status">idle</span><span class="peer"></span><span class="badges"></span>';
    tile.querySelector("b").textContent = number;
    tile.addEventListener("click", () => picked(d));
    li.append(tile);
    d.tile = tile;
    d.li = li;
    board.devices.set(number, d);
    return d;
  }

  async function start() {
    // The device list comes as SwitchingFunctionDevices events after the response.
    board.listing = [];
    const listed = new Promise((resolve) => (board.listed = resolve));
    await request({ type: "GetSwitchingFunctionDevices" });
    const ids = await listed;
    ids.sort((a, b) => numberOf(a).localeCompare(numberOf(b), undefined, { numeric: true }));
    const list = $("#tiles");
    const select = $("#me");
    const fragment = document.createDocumentFragment();
    select.replaceChildren(new Option("(none)", ""));
    for (const id of ids) {
      const d = device(id);
      fragment.append(d.li);
      select.append(new Option(d.number, d.number));
    }
    list.replaceChildren(fragment);
    const saved = localStorage.getItem("uacsta.switchboard.me");
    if (saved && board.devices.has(saved)) select.value = saved;
    chooseMe();
    summary();
    // One monitor per device, a few at a time.
    const queue = [...board.devices.values()];
    let failed = 0;
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        try {
          const answer = await request({ type: "MonitorStart", monitorObject: { deviceObject: d.id } });
          d.xref = answer.csta.monitorCrossRefID;
          board.byXref.set(d.xref, d);
          d.tile.dataset.monitored = "yes";
        } catch (error) {
          failed++;
          d.tile.dataset.monitored = "no";
          d.tile.title = `not monitored: ${error.message}`;
        }
      }
    };
    await Promise.all(Array.from({ length: MONITOR_AT_ONCE }, worker));
    document.body.dataset.monitored = String(board.byXref.size);
    summary(failed);
  }

  function summary(failed = 0) {
    const text = `${board.devices.size} devices, ${board.byXref.size} watched`;
    $("#summary").textContent = failed ? `${text}, ${failed} could not be watched` : text;
  }

  function reset() {
    board.devices.clear();
    board.byXref.clear();
    board.session = null;
    board.seq = 0;
    $("#tiles").replaceChildren();
  }

  // -- events -------------------------------------------------------------------------

  const SUBJECT = {
    ServiceInitiatedEvent: "initiatedConnection",
    OriginatedEvent: "originatedConnection",
    DeliveredEvent: "connection",
    OfferedEvent: "offeredConnection",
    QueuedEvent: "queuedConnection",
    NetworkReachedEvent: "outboundConnection",
    EstablishedEvent: "establishedConnection",
    HeldEvent: "heldConnection",
    RetrievedEvent: "retrievedConnection",
    FailedEvent: "failedConnection",
    DivertedEvent: "connection",
    ConnectionClearedEvent: "droppedConnection",
    CallClearedEvent: "clearedCall",
    TransferedEvent: "primaryOldCall",
    ConferencedEvent: "primaryOldCall",
  };
  // event -> the phase of the device's own connection, when localConnectionInfo does not say
  const PHASE = {
    ServiceInitiatedEvent: "dialing",
    OriginatedEvent: "calling",
    NetworkReachedEvent: "calling",
    OfferedEvent: "ringing",
    QueuedEvent: "ringing",
    EstablishedEvent: "talking",
    RetrievedEvent: "talking",
    HeldEvent: "held",
    FailedEvent: "failed",
    ConferencedEvent: "talking",
    TransferedEvent: "talking",
  };
  const ENDS = new Set(["ConnectionClearedEvent", "CallClearedEvent", "DivertedEvent"]);
  const RANK = ["ringing", "talking", "calling", "dialing", "failed", "held"];

  function onEvent(csta, reference) {
    if (csta.type === "SwitchingFunctionDevices") {
      for (const item of csta.deviceList || []) board.listing.push(item.deviceID);
      if (csta.lastSegment !== false && board.listed) {
        board.listed(board.listing);
        board.listed = null;
      }
      return;
    }
    const d = board.byXref.get(csta.monitorCrossRefID);
    if (!d) return;
    switch (csta.type) {
      case "DoNotDisturbEvent":
        d.dnd = !!csta.doNotDisturbOn;
        break;
      case "ForwardingEvent":
        d.forward = csta.forwardStatus ? csta.forwardTo || "on" : null;
        break;
      case "BackInServiceEvent":
        d.online = true;
        break;
      case "OutOfServiceEvent":
        d.online = false;
        d.calls.clear();
        break;
      default:
        if (csta.type in SUBJECT) callEvent(d, csta, reference);
    }
    render(d);
  }

  function callEvent(d, csta, reference) {
    const conn = csta[SUBJECT[csta.type]] || {};
    const key = reference || `id:${conn.callID}`;
    const local = csta.localConnectionInfo;
    if (csta.type === "TransferedEvent" || csta.type === "ConferencedEvent") {
      // The old calls at the device (held and active) become the joined one,
      // or the device left them (the one that transferred).
      const old = [conn.callID, (csta.secondaryOldCall || {}).callID].filter(Boolean);
      for (const [k, call] of d.calls)
        if (k !== key && old.includes(call.callID)) d.calls.delete(k);
    }
    if ((ENDS.has(csta.type) && (!local || local === "null")) || local === "null") {
      d.calls.delete(key);
      return;
    }
    if (!d.calls.has(key) && conn.callID) {
      // The server linked this call to an older reference: the same callID
      // at this device goes on under the reference the events now carry.
      for (const [k, known] of d.calls)
        if (known.callID === conn.callID) {
          d.calls.delete(k);
          d.calls.set(key, known);
          break;
        }
    }
    const call = d.calls.get(key) || { callID: conn.callID, phase: "calling", peer: "" };
    let phase = PHASE[csta.type];
    if (csta.type === "DeliveredEvent") phase = local === "alerting" ? "ringing" : "calling";
    // localConnectionInfo is this device's own connection: a HeldEvent with
    // "connected" is the far end holding the call, not this device.
    if (local === "hold") phase = "held";
    else if (local === "alerting") phase = "ringing";
    else if (local === "connected" && phase === "held") phase = "talking";
    if (phase) call.phase = phase;
    if (conn.callID && conn.deviceID && numberOf(conn.deviceID) === d.number) call.callID = conn.callID;
    const joined = csta.type === "TransferedEvent" || csta.type === "ConferencedEvent";
    if (joined) call.peer = ""; // the party that transferred has left
    const peer = [csta.callingDevice, csta.calledDevice, csta.transferredToDevice, csta.addedParty]
      .filter((p) => typeof p === "string" && numberOf(p) !== d.number)[0];
    if (peer) call.peer = numberOf(peer);
    d.calls.set(key, call);
    if (joined && !call.peer && reference) {
      // The event does not name the other side: the call reference does, at
      // the other tile that is in the same call.
      for (const other of board.devices.values())
        if (other !== d && other.calls.has(reference)) {
          call.peer = other.number;
          const theirs = other.calls.get(reference);
          if (!theirs.peer || theirs.peer === numberOf(csta.transferringDevice || "")) {
            theirs.peer = d.number;
            render(other);
          }
          break;
        }
    }
  }

  function render(d) {
    const calls = [...d.calls.values()];
    const main = calls.map((c) => c.phase).sort((a, b) => RANK.indexOf(a) - RANK.indexOf(b))[0];
    const state = main || "idle";
    const tile = d.tile;
    tile.dataset.state = state;
    tile.dataset.dnd = d.dnd ? "on" : "off";
    tile.dataset.online = d.online ? "yes" : "no";
    tile.querySelector(".status").textContent = state;
    const prime = calls.find((c) => c.phase === state);
    tile.querySelector(".peer").textContent = prime && prime.peer ? prime.peer : "";
    tile.querySelector(".badges").textContent = d.forward ? `fwd ${numberOf(d.forward)}` : "";
    if (d === board.me) showMine();
  }

  // -- my phone -----------------------------------------------------------------------

  function chooseMe() {
    const number = $("#me").value;
    if (board.me) board.me.tile.dataset.me = "no";
    board.me = board.devices.get(number) || null;
    if (board.me) board.me.tile.dataset.me = "yes";
    localStorage.setItem("uacsta.switchboard.me", number);
    setMode(null);
    showMine();
  }

  function mine(phase) {
    if (!board.me) return null;
    for (const [key, call] of board.me.calls) if (call.phase === phase) return { key, ...call };
    return null;
  }

  function active() {
    return mine("talking") || mine("calling") || mine("dialing");
  }

  function conn(call) {
    // The server's call reference where there is one, else the phone's callID.
    const id = call.key.startsWith("id:") ? call.callID : call.key;
    return { callID: id, deviceID: board.me.id };
  }

  function showMine() {
    const me = board.me;
    const calls = me ? [...me.calls.entries()] : [];
    $("#my-calls").textContent = !me
      ? "Pick your phone above"
      : calls.length
        ? calls.map(([, c]) => `${c.phase} ${c.peer || ""}`.trim()).join(" · ")
        : `${me.number}: no call`;
    const enable = (action, on) => ($(`[data-action="${action}"]`).disabled = !on);
    enable("answer", mine("ringing"));
    enable("hold", mine("talking"));
    enable("retrieve", mine("held"));
    enable("clear", active() || mine("held") || mine("ringing"));
    enable("blind", active());
    enable("consult", mine("talking"));
    enable("complete", mine("held") && active());
  }

  function setMode(mode) {
    board.mode = mode;
    const panel = $("#console");
    if (mode) panel.dataset.mode = mode;
    else delete panel.dataset.mode;
    $('[data-action="cancel"]').hidden = !mode;
    if (mode) say(mode === "blind" ? "Pick the device to transfer to" : "Pick the device to consult");
  }

  async function act(action) {
    const me = board.me;
    if (!me) return;
    try {
      if (action === "answer") await request({ type: "AnswerCall", callToBeAnswered: conn(mine("ringing")) });
      if (action === "hold") await request({ type: "HoldCall", callToBeHeld: conn(mine("talking")) });
      if (action === "retrieve") await request({ type: "RetrieveCall", callToBeRetrieved: conn(mine("held")) });
      if (action === "clear") {
        const call = active() || mine("ringing") || mine("held");
        await request({ type: "ClearConnection", connectionToBeCleared: conn(call) });
      }
      if (action === "blind" || action === "consult") return setMode(action);
      if (action === "cancel") return setMode(null);
      if (action === "complete") {
        await request({ type: "TransferCall", heldCall: conn(mine("held")), activeCall: conn(active()) });
        say("transferred");
        return;
      }
      say(`${action}: done`);
    } catch (error) {
      say(`${action} refused: ${error.message}`);
    }
  }

  async function picked(d) {
    const me = board.me;
    if (!me) {
      say("Pick your phone above first");
      return;
    }
    const mode = board.mode;
    setMode(null);
    try {
      if (mode === "blind") {
        await request({ type: "SingleStepTransferCall", activeCall: conn(active()), transferredTo: d.id });
        say(`transferred to ${d.number}`);
      } else if (mode === "consult") {
        await request({ type: "ConsultationCall", existingCall: conn(mine("talking")), consultedDevice: d.id });
        say(`consulting ${d.number}: Complete transfer when ready`);
      } else if (d !== me) {
        await request({ type: "MakeCall", callingDevice: me.id, calledDirectoryNumber: d.id });
        say(`calling ${d.number}`);
      }
    } catch (error) {
      say(`${d.number}: ${error.message}`);
    }
  }

  function say(text) {
    $("#message").textContent = text;
  }

  // -- the page -------------------------------------------------------------------------

  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    board.user = $("#user").value;
    board.password = $("#password").value;
    board.closing = false;
    $("#login-error").textContent = "";
    try {
      await open(false);
    } catch (error) {
      $("#login-error").textContent = `Login refused: ${error.message}`;
      return;
    }
    $("#login").hidden = true;
    $("#board").hidden = false;
    await start();
  });
  $("#me").addEventListener("change", chooseMe);
  $("#filter").addEventListener("input", () => {
    const wanted = $("#filter").value.trim();
    for (const d of board.devices.values()) d.li.hidden = wanted !== "" && !d.number.includes(wanted);
  });
  for (const button of document.querySelectorAll("#console [data-action]"))
    button.addEventListener("click", () => act(button.dataset.action));
  $("#logout").addEventListener("click", () => {
    board.closing = true;
    if (board.ws) board.ws.send(JSON.stringify({ op: "logout" }));
    if (board.ws) board.ws.close();
    board.password = "";
    reset();
    $("#board").hidden = true;
    $("#login").hidden = false;
  });
})();
