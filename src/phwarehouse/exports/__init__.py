"""Scheduled exports of the published marts: the monthly bulletin (工作简报) and the annual
appraisal (年度考核), as XLSX and PDF in an outbox folder per period, optionally e-mailed.

Modules: `data` (publication check, queries), `scoring` (appraisal rule from the seed),
`xlsx`, `charts`, `pdf`, `outbox` (atomic folder + manifest), `delivery` (SMTP), `jobs`
(what `phw export …` and the DAGs run).
"""
