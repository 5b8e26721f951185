"""The race definition: race files, course geometry, basemap, speed schedules, guns."""
