// jobop dashboard: the Schedules pages (docs/schedules.md), over /api/schedules.
// #/schedules: every schedule with its next fires and last fire; #/schedules/NAME: one
// schedule with its last fires, each launched one linking to its execution. Both have
// pause/resume/trigger buttons. No event announces a fire: the pages are polled.
// Uses app.js's helpers (h, api, fail, toast, when, badge, setCrumbs, parameterText).
"use strict";

const SCHEDULES_REFRESH_MS = 2000;
const FIRES_SHOWN = 20;

function scheduleLink(name) {
  return h("a", { href: `#/schedules/${encodeURIComponent(name)}` }, name);
}

function executionLink(id) {
  return id ? h("a", { href: `#/executions/${id}`, "data-execution": id }, `#${id}`) : "";
}

function fireText(fire) {
  if (!fire) return h("span", { class: "muted" }, "never fired");
  return h("span", { "data-outcome": fire.outcome },
    h("span", { class: `fire ${fire.outcome}` }, fire.outcome), " ",
    h("span", { class: "mono" }, fire.fireTime), " ", executionLink(fire.executionId),
    fire.triggered ? h("span", { class: "muted" }, " (triggered)") : null,
    fire.reason ? h("div", { class: "muted" }, fire.reason) : null);
}

function nextFires(schedule) {
  if (schedule.paused) return h("span", { class: "muted" }, "paused");
  return h("ul", { class: "fire-times mono" }, schedule.nextFireTimes.map((time) => h("li", {}, time)));
}

// Pause or resume (whichever applies) and trigger; `after` redraws with the answer.
function scheduleButtons(schedule, after) {
  const path = `/api/schedules/${encodeURIComponent(schedule.name)}`;
  const act = async (verb) => {
    try {
      const answer = await api("POST", `${path}/${verb}`);
      if (verb === "trigger") {
        toast(`${schedule.name}: ${answer.outcome}${answer.executionId ? ` #${answer.executionId}` : ""}`);
      } else {
        toast(`${schedule.name}: ${verb}d`);
      }
      await after();
    } catch (error) {
      fail(error);
    }
  };
  const toggle = schedule.paused ? "resume" : "pause";
  return h("span", { class: "actions" },
    h("button", { type: "button", "data-action": toggle, onclick: () => act(toggle) },
      schedule.paused ? "Resume" : "Pause"),
    h("button", { type: "button", "data-action": "trigger", onclick: () => act("trigger") }, "Trigger now"));
}

function fillScheduleRow(row, schedule, refresh) {
  row.replaceChildren(
    h("td", {}, scheduleLink(schedule.name),
      schedule.description ? h("div", { class: "job-about" }, schedule.description) : null),
    h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(schedule.jobName)}` }, schedule.jobName)),
    h("td", { class: "mono" }, schedule.cron),
    h("td", {}, schedule.timeZone),
    h("td", { "data-field": "next" }, nextFires(schedule)),
    h("td", { "data-field": "last" }, fireText(schedule.lastFire)),
    h("td", {}, scheduleButtons(schedule, refresh)),
  );
}

async function schedulesView(main) {
  setCrumbs(h("a", { href: "#/" }, "jobs"), "schedules");
  const tbody = h("tbody");
  const refresh = async () => {
    const data = await api("GET", "/api/schedules");
    tbody.replaceChildren(...data.schedules.map((schedule) => {
      const row = h("tr", { "data-schedule": schedule.name });
      fillScheduleRow(row, schedule, refresh);
      return row;
    }));
    if (!data.schedules.length) {
      tbody.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "no schedule yet")));
    }
  };
  main.replaceChildren(
    h("h1", {}, "Schedules"),
    h("table", { class: "grid", id: "schedules" },
      h("thead", {}, h("tr", {}, h("th", {}, "schedule"), h("th", {}, "job"), h("th", {}, "cron"),
        h("th", {}, "time zone"), h("th", {}, "next fires"), h("th", {}, "last fire"), h("th", {}, ""))),
      tbody),
  );
  closeStream();
  await refresh();
  poll(tbody, refresh);
  return { name: "schedules", startJob: null };
}

async function scheduleView(main, name) {
  const path = `/api/schedules/${encodeURIComponent(name)}`;
  setCrumbs(h("a", { href: "#/" }, "jobs"), h("a", { href: "#/schedules" }, "schedules"), name);
  const title = h("h1", {}, "Schedule ", h("span", { class: "mono" }, name));
  const facts = h("dl", { class: "facts panel", id: "schedule-facts" });
  const fires = h("tbody");
  const refresh = async () => {
    const [schedule, page] = await Promise.all([
      api("GET", path), api("GET", `${path}/fires?pageSize=${FIRES_SHOWN}`)]);
    title.replaceChildren("Schedule ", h("span", { class: "mono" }, name), scheduleButtons(schedule, refresh));
    const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
    facts.replaceChildren(
      ...fact("job", h("a", { href: `#/jobs/${encodeURIComponent(schedule.jobName)}` }, schedule.jobName)),
      ...fact("cron", h("span", { class: "mono" }, schedule.cron)),
      ...fact("time zone", schedule.timeZone),
      ...fact("parameters", h("span", { class: "mono" }, parameterText(schedule.parameters) || "none")),
      ...fact("overlap", schedule.overlap),
      ...fact("catch-up", `${schedule.catchUp} (at most ${schedule.maxCatchUp})`),
      ...fact("next fires", nextFires(schedule)),
      ...fact("description", schedule.description || "—"),
    );
    fires.replaceChildren(...page.fires.map((fire) => h("tr", { "data-outcome": fire.outcome },
      h("td", { class: "mono" }, fire.fireTime),
      h("td", {}, h("span", { class: `fire ${fire.outcome}` }, fire.outcome)),
      h("td", {}, executionLink(fire.executionId)),
      h("td", {}, fire.triggered ? "yes" : ""),
      h("td", { class: "muted" }, fire.reason))));
    if (!page.fires.length) fires.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "no fire yet")));
  };
  main.replaceChildren(title, facts,
    h("h2", { id: "fires-title" }, "Last fires"),
    h("table", { class: "grid", id: "fires", "aria-labelledby": "fires-title" },
      h("thead", {}, h("tr", {}, h("th", {}, "fire time"), h("th", {}, "outcome"),
        h("th", {}, "execution"), h("th", {}, "triggered"), h("th", {}, "reason"))),
      fires));
  closeStream();
  await refresh();
  poll(fires, refresh);
  return { name: "schedule", startJob: null };
}

// Refresh while `element` is shown; a failed refresh is retried by the next one.
function poll(element, refresh) {
  const timer = setInterval(
    () => (element.isConnected ? refresh().catch(() => {}) : clearInterval(timer)),
    SCHEDULES_REFRESH_MS);
  ticker = timer;
}
