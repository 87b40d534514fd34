/* Plots of the parsl-visualize pages, drawn with the plotly.js this server serves. */
"use strict";
var ParslViews = (function () {
  // The table of parsl_monitoring/visualize/colors.py, put on the page by base.html.
  var STATE_COLORS = JSON.parse(document.getElementById("state-colors").textContent);
  var layoutBase = { margin: { t: 20, r: 20, b: 50, l: 70 }, legend: { orientation: "h" } };
  var config = { responsive: true, displaylogo: false };

  function ms(text) { return Date.parse(String(text).replace(" ", "T") + "Z"); }
  function layout(extra) { return Object.assign({}, layoutBase, extra || {}); }
  function el(id) { return document.getElementById(id); }
  function text(node, value) { node.textContent = value; return node; }

  function drawCounts(counts) {
    var box = el("counts");
    if (!box) { return; }
    box.innerHTML = "";
    Object.keys(counts).sort().forEach(function (state) {
      box.appendChild(text(document.createElement("span"), state + ": " + counts[state]));
    });
  }

  function appsTraces(apps) {
    var names = Object.keys(apps).sort();
    var states = {};
    names.forEach(function (a) { Object.keys(apps[a]).forEach(function (s) { states[s] = 1; }); });
    return Object.keys(states).sort().map(function (state) {
      return { type: "bar", name: state, x: names, marker: { color: STATE_COLORS[state] },
               y: names.map(function (a) { return apps[a][state] || 0; }) };
    });
  }

  function stateTraces(over) {
    return Object.keys(over.states).map(function (state) {
      return { type: "scatter", mode: "lines", name: state, x: over.times,
               y: over.states[state], line: { shape: "hv", color: STATE_COLORS[state] } };
    });
  }

  function streamTraces(stream) {
    var now = Date.now();
    var byApp = {};
    stream.tries.forEach(function (t) {
      var key = t.end ? t.app : t.app + " (running)";
      var trace = byApp[key] || (byApp[key] = { type: "bar", orientation: "h", name: key,
                                               x: [], y: [], base: [], text: [],
                                               textposition: "none", hoverinfo: "text+y" });
      var end = t.end ? ms(t.end) : now;
      trace.base.push(t.start);
      trace.x.push(Math.max(end - ms(t.start), 1));
      trace.y.push(t.worker);
      trace.text.push("task " + t.task_id + " try " + t.try_id + " (" + t.app + ")");
    });
    return Object.keys(byApp).sort().map(function (k) { return byApp[k]; });
  }

  function resourceTraces(resources) {
    var apps = resources.map(function (r) { return r.app; });
    return [
      { type: "bar", name: "mean CPU %", x: apps, y: resources.map(function (r) { return r.cpu_avg; }) },
      { type: "bar", name: "max CPU %", x: apps, y: resources.map(function (r) { return r.cpu_max; }) },
      { type: "bar", name: "peak memory (MiB)", x: apps, yaxis: "y2",
        y: resources.map(function (r) { return r.memory_peak / 1048576; }) }
    ];
  }

  function infraTraces(infra) {
    var traces = [];
    var blocks = {};
    infra.blocks.forEach(function (b) {
      var key = "block " + b.executor + "/" + b.block;
      var t = blocks[key] || (blocks[key] = { type: "scatter", mode: "lines+markers+text", name: key,
                                             x: [], y: [], text: [], textposition: "top center",
                                             line: { shape: "hv" } });
      t.x.push(b.time); t.y.push(key); t.text.push(b.status);
    });
    Object.keys(blocks).forEach(function (k) { traces.push(blocks[k]); });
    var nodes = {};
    infra.nodes.forEach(function (n) {
      var key = "node " + n.uid;
      var t = nodes[key] || (nodes[key] = { type: "scatter", mode: "lines+markers+text", name: key,
                                           x: [], y: [], text: [], textposition: "bottom center",
                                           line: { shape: "hv", dash: "dot" } });
      t.x.push(n.time); t.y.push(key); t.text.push(n.event + (n.workers ? " (" + n.workers + " workers)" : ""));
    });
    Object.keys(nodes).forEach(function (k) { traces.push(nodes[k]); });
    return traces;
  }

  function drawFailures(failures, taskUrl) {
    var box = el("failures");
    if (!box) { return; }
    box.innerHTML = "";
    var summary = document.createElement("p");
    text(summary, failures.total + " failed tries, " + failures.dep_fail +
         " tasks not run because a dependency failed" +
         (failures.items.length < failures.total ? " (first " + failures.items.length + " shown)" : ""));
    box.appendChild(summary);
    failures.items.forEach(function (f) {
      var d = document.createElement("details");
      var s = document.createElement("summary");
      var a = document.createElement("a");
      a.href = taskUrl.replace(/\/0$/, "/" + f.task_id);
      text(a, "task " + f.task_id + " try " + f.try_id);
      s.appendChild(a);
      s.appendChild(document.createTextNode(" " + f.app + ": " + f.error));
      d.appendChild(s);
      d.appendChild(text(document.createElement("pre"), f.traceback));
      box.appendChild(d);
    });
  }

  function plot(id, traces, extra) {
    var node = el(id);
    if (!node) { return; }
    Plotly.react(node, traces, layout(extra), config);
  }

  function drawRun(data, taskUrl) {
    drawCounts(data.counts);
    plot("plot-apps", appsTraces(data.apps), { barmode: "stack", yaxis: { title: "tasks" } });
    plot("plot-states", stateTraces(data.over_time), { yaxis: { title: "tasks" }, xaxis: { type: "date" } });
    var note = el("stream-note");
    if (note) {
      text(note, data.stream.shown < data.stream.total
        ? "Latest " + data.stream.shown + " of " + data.stream.total + " tries." : data.stream.total + " tries.");
    }
    plot("plot-stream", streamTraces(data.stream), { barmode: "overlay", xaxis: { type: "date" },
                                                     yaxis: { type: "category", automargin: true } });
    plot("plot-resources", resourceTraces(data.resources),
         { barmode: "group", yaxis: { title: "CPU %" },
           yaxis2: { title: "MiB", overlaying: "y", side: "right" } });
    plot("plot-infra", infraTraces(data.infrastructure), { xaxis: { type: "date" },
                                                           yaxis: { type: "category", automargin: true } });
    drawFailures(data.failures, taskUrl);
  }

  function showRun(data, jsonUrl, taskUrl) {
    drawRun(data, taskUrl);
    if (!data.live) { return; }
    var timer = setInterval(function () {
      fetch(jsonUrl, { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (fresh) {
          if (!fresh) { return; }
          drawRun(fresh, taskUrl);
          if (!fresh.live) {
            clearInterval(timer);
            var live = el("live");
            if (live) { text(live, "completed " + fresh.run.time_completed + " UTC"); }
          }
        }).catch(function () { /* the server may be restarting: try again next tick */ });
    }, data.refresh_seconds * 1000);
  }

  function showTaskResources(samples) {
    var times = samples.map(function (s) { return s.time; });
    plot("plot-task-resources", [
      { type: "scatter", mode: "lines+markers", name: "CPU %", x: times,
        y: samples.map(function (s) { return s.cpu_percent; }) },
      { type: "scatter", mode: "lines+markers", name: "resident memory (MiB)", x: times, yaxis: "y2",
        y: samples.map(function (s) { return (s.rss || 0) / 1048576; }) }
    ], { xaxis: { type: "date" }, yaxis: { title: "CPU %" },
         yaxis2: { title: "MiB", overlaying: "y", side: "right" } });
  }

  function showGraph(graph) {
    var pos = {};
    graph.nodes.forEach(function (n) { pos[n.id] = n; });
    var ex = [], ey = [];
    graph.edges.forEach(function (e) {
      var a = pos[e.from], b = pos[e.to];
      if (!a || !b) { return; }
      ex.push(a.x, b.x, null); ey.push(a.y, b.y, null);
    });
    var traces = [{ type: "scatter", mode: "lines", x: ex, y: ey, hoverinfo: "none",
                    line: { color: "#bbb", width: 1 }, name: "dependencies" }];
    var byState = {};
    graph.nodes.forEach(function (n) {
      var key = n.state || "app";
      var t = byState[key] || (byState[key] = { type: "scatter", mode: graph.aggregated ? "markers+text" : "markers",
                                               name: key, x: [], y: [], text: [], textposition: "top center",
                                               marker: { size: graph.aggregated ? 18 : 9, color: STATE_COLORS[key] } });
      t.x.push(n.x); t.y.push(n.y); t.text.push(n.label);
    });
    Object.keys(byState).forEach(function (k) { traces.push(byState[k]); });
    plot("plot-dag", traces, { xaxis: { title: "depth", zeroline: false }, yaxis: { visible: false },
                               hovermode: "closest" });
  }

  function showComparison(data, side) {
    plot("plot-apps-" + side, appsTraces(data.apps), { barmode: "stack" });
    plot("plot-states-" + side, stateTraces(data.over_time), { xaxis: { type: "date" } });
  }

  return { showRun: showRun, showTaskResources: showTaskResources, showGraph: showGraph,
           showComparison: showComparison };
})();
