"""The website's views: parse with a form, call one service or selector, render."""
