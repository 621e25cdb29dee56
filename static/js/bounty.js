/* A bounty: its area on the map and the countdown of the worker's hold. */
(function () {
  window.sightlineCountdown();
  var data = document.getElementById("map-data");
  if (!data) return;
  window.addEventListener("load", function () {
    var area = JSON.parse(data.textContent);
    var map = window.sightlineMap([area.lat, area.lon], 16);
    if (!map) return;
    var circle = L.circle([area.lat, area.lon], { radius: area.radius_m, color: "#0b5fff" }).addTo(map);
    map.fitBounds(circle.getBounds(), { padding: [16, 16] });
  });
})();
