"""Simulator of the provincial basic public health service platform (基本公共卫生服务平台).

Generates a deterministic synthetic district (org units, residents, service histories, dirty
data), writes it as a JSONL change feed plus statistics-bureau population CSVs, exports monthly
XLSX files and serves the feed over an HTTP API shaped like the real platform's.
"""
