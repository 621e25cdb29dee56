/* A Leaflet map that admits when its tiles cannot load: the page's list or text stays the
   source of truth, the map only helps. */
window.sightlineMap = function (center, zoom) {
  var element = document.getElementById("map");
  var note = document.getElementById("map-note");
  if (!element || !window.L) {
    if (element) element.hidden = true;
    if (note) note.hidden = false;
    return null;
  }
  var map = L.map(element, { scrollWheelZoom: false }).setView(center, zoom);
  var failures = 0;
  var layer = L.tileLayer(element.dataset.tileUrl, {
    maxZoom: 19,
    attribution: "&copy; OpenStreetMap contributors",
  });
  layer.on("tileerror", function () {
    failures += 1;
    if (failures >= 2 && note) note.hidden = false;
  });
  layer.addTo(map);
  return map;
};
window.sightlineCountdown = function () {
  var element = document.getElementById("countdown");
  if (!element) return;
  var expires = Date.parse(element.dataset.expires);
  function tick() {
    var seconds = Math.max(0, Math.round((expires - Date.now()) / 1000));
    var minutes = Math.floor(seconds / 60);
    element.textContent = seconds > 0
      ? minutes + " min " + String(seconds % 60).padStart(2, "0") + " s"
      : "no time (the hold has ended)";
    if (seconds > 0) window.setTimeout(tick, 1000);
  }
  tick();
};
