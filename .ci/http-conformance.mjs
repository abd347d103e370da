// Summarises http-cache-tests results for .ci/http-conformance, with the suite's own metadata and
// its own classification: tests/index.mjs gives each test's kind (required when absent, optimal,
// check) and depends_on; test-engine/lib/results.mjs's determineTestResult classifies each result
// exactly as the suite's results page does (a test whose dependency did not pass counts as
// dependency-failed, not passed). Tests marked browser_only are left out everywhere: the CLI never
// runs them against a proxy.
//
// Usage:
//   node http-conformance.mjs SUITE [--results RESULTS.json --summary SUMMARY.json]
//                                   [--report REPORT.md] [--label TEXT] [--published]
//   --results    our results (the CLI's output); prints the counts and the failing required tests
//   --published  prints the same counts for every published result in SUITE/results/
import fs from 'fs'
import path from 'path'
import { pathToFileURL } from 'url'

const args = process.argv.slice(2)
const suiteDir = args.shift()
const opt = {}
while (args.length) {
  const a = args.shift()
  if (a === '--published') opt.published = true
  else if (['--results', '--summary', '--report', '--label'].includes(a)) opt[a.slice(2)] = args.shift()
  else { console.error(`http-conformance.mjs: unknown argument ${a}`); process.exit(2) }
}
const imp = p => import(pathToFileURL(path.join(suiteDir, p)).href)
const suites = (await imp('tests/index.mjs')).default
const { determineTestResult } = await imp('test-engine/lib/results.mjs')
const snapshot = fs.existsSync(path.join(suiteDir, 'SNAPSHOT')) ? fs.readFileSync(path.join(suiteDir, 'SNAPSHOT'), 'utf8').trim() : 'unknown'

// Why a required test fails against examples/reverseproxy, for the reader; checked by hand against
// the suite's messages. A failing required test without a reason here is listed as UNEXPLAINED.
const reasons = [
  [/^headers-store-Transfer-Encoding$/, 'Go artifact: the origin sends a made-up Transfer-Encoding; net/http\'s client (the ReverseProxy\'s transport) rejects the response ("unsupported transfer encoding") and the proxy answers 502 before the cache sees it. A plain ReverseProxy and gregjones/httpcache get the same, as do Squid, Caddy, nginx and HAProxy (502), Varnish and Fastly (503).'],
  [/^(cc-resp-must-revalidate-stale|304-etag-update-response-.*|304-lm-use-stored-.*)$/, 'Timing-sensitive: max-age=2 and a 3 s pause; on a loaded machine the next request can miss the 2 s window. Rerun before chasing it.'],
  [/^(headers-store-Set-Cookie|other-set-cookie)$/, 'The suite expects a response with Set-Cookie to be stored and its cookie replayed to the next client; not storing it is a deliberate safety default of a shared cache (middleware.StoreSetCookie opts in when the request carried a cookie).']
]
const reasonFor = id => (reasons.find(([re]) => re.test(id)) || [])[1]

const kindName = { required: 'required', optimal: 'optimal', check: 'informational' }
const symbolCat = { '✅': 'passed', Y: 'passed', '⛔️': 'failed', '⚠️': 'failed', N: 'failed', '🔹': 'setup_fail', '⚪️': 'dependency_fail', '↻': 'retry', '⁉️': 'harness_fail', '-': 'untested' }
const passSymbols = ['✅', 'Y']

// count classifies every result of one results object.
function count (results) {
  const counts = {}
  for (const k of Object.values(kindName)) {
    counts[k] = { total: 0, passed: 0, failed: 0, setup_fail: 0, dependency_fail: 0, retry: 0, harness_fail: 0, untested: 0 }
  }
  const failing = { required: [], optimal: [] }
  for (const suite of suites) {
    for (const test of suite.tests) {
      if (test.browser_only === true) continue
      const kind = kindName[test.kind === undefined ? 'required' : test.kind]
      if (kind === undefined) throw new Error(`unknown test kind ${test.kind} for ${test.id}`)
      const c = counts[kind]
      c.total++
      const res = results[test.id]
      const cat = symbolCat[determineTestResult(suites, test.id, results)[2]]
      c[cat]++
      if (kind === 'informational' || cat === 'passed') continue
      const own = res === true ? 'passed' : Array.isArray(res) ? `${res[0]}: ${res[1]}` : res === undefined ? 'no result (did not run)' : JSON.stringify(res)
      let message = own
      let tag = cat === 'failed' ? 'FAIL' : cat === 'setup_fail' ? 'SETUP' : cat.toUpperCase()
      if (cat === 'dependency_fail') {
        const deps = (test.depends_on || []).filter(d => !passSymbols.includes(determineTestResult(suites, d, results)[2]))
        message = `own result: ${own}; dependency did not pass: ${deps.join(', ')}`
        tag = res === true ? 'DEP (own: pass)' : 'DEP (own: fail)'
      }
      failing[kind].push({ id: test.id, name: test.name, suite: suite.name, anchors: test.spec_anchors || suite.spec_anchors || [], tag, message, reason: reasonFor(test.id) })
    }
  }
  return { counts, failing }
}

const pad = (s, n) => String(s).padEnd(n)
const out = []

if (opt.results) {
  let results
  try {
    results = JSON.parse(fs.readFileSync(opt.results, 'utf8'))
  } catch (err) {
    console.error(`http-conformance: results file ${opt.results} is not valid JSON: ${err.message}`)
    process.exit(3)
  }
  if (results === null || typeof results !== 'object' || Object.keys(results).length === 0) {
    console.error(`http-conformance: results file ${opt.results} holds no test results`)
    process.exit(3)
  }
  const { counts, failing } = count(results)
  const putConfigFailures = Object.values(results).filter(r => Array.isArray(r) && r[0] === 'Setup' && /^PUT config/.test(r[1])).length
  const unexplained = failing.required.filter(f => !f.reason).map(f => f.id)
  fs.writeFileSync(opt.summary, JSON.stringify({ snapshot, label: opt.label || '', put_config_failures: putConfigFailures, counts, failing_required: failing.required, failing_optimal: failing.optimal, unexplained }, null, 2) + '\n')
  out.push(`suite snapshot ${snapshot}`)
  out.push(`${pad('kind', 14)} ${pad('passed', 7)} ${pad('failed', 7)} ${pad('setup', 6)} ${pad('dep', 5)} ${pad('other', 6)} total`)
  for (const [k, c] of Object.entries(counts)) {
    out.push(`${pad(k, 14)} ${pad(c.passed, 7)} ${pad(c.failed, 7)} ${pad(c.setup_fail, 6)} ${pad(c.dependency_fail, 5)} ${pad(c.retry + c.harness_fail + c.untested, 6)} ${c.total}`)
  }
  out.push('', `failing required tests (${failing.required.length}):`)
  for (const f of failing.required) {
    out.push(`  ${f.id} [${f.tag}] ${f.name.replace(/`/g, '')}`, `      ${f.message}`, `      reason: ${f.reason || 'UNEXPLAINED (no known reason: look into it)'}`)
  }
}

let published = []
if (opt.published || opt.report) {
  const index = (await imp('results/index.mjs')).default
  for (const entry of index) {
    const results = JSON.parse(fs.readFileSync(path.join(suiteDir, 'results', entry.file), 'utf8'))
    published.push({ name: `${entry.name} ${entry.version}`, type: entry.type, counts: count(results).counts })
  }
  published.sort((a, b) => b.counts.required.passed - a.counts.required.passed)
}
if (opt.published) {
  out.push('', `published results in the suite's results/ (same classification; required / optimal / informational passed, required not passed):`)
  for (const p of published) {
    const r = p.counts.required
    out.push(`  ${pad(p.name, 36)} ${pad(p.type, 10)} ${pad(r.passed, 4)} ${pad(p.counts.optimal.passed, 4)} ${pad(p.counts.informational.passed, 4)} (${r.failed} failed, ${r.setup_fail} setup, ${r.dependency_fail} dependency, ${r.untested + r.retry + r.harness_fail} other)`)
  }
}
if (out.length) console.log(out.join('\n'))

if (opt.report) {
  const s = JSON.parse(fs.readFileSync(opt.summary, 'utf8'))
  const md = []
  const row = (name, c) => `| ${name} | ${c.required.passed} | ${c.required.failed} | ${c.required.setup_fail} | ${c.required.dependency_fail} | ${c.optimal.passed} | ${c.informational.passed} |`
  md.push(`# HTTP caching conformance: ${opt.label || 'latest run'}`, '')
  md.push(`Suite: http-tests/cache-tests snapshot ${snapshot} (tests/index.mjs, as its CLI runs them against a proxy), run by \`.ci/http-conformance\` on ${new Date().toISOString()}. Classification: the suite's own \`test-engine/lib/results.mjs\`.`, '')
  md.push('| cache | required passed | required failed | setup fail | dependency fail | optimal passed | informational passed |', '|---|---:|---:|---:|---:|---:|---:|')
  md.push(row(`**${opt.label || 'this run'}**`, s.counts))
  for (const p of published) md.push(row(`${p.name} (published)`, p.counts))
  md.push('', `## Failing required tests (${s.failing_required.length})`, '')
  for (const f of s.failing_required) {
    md.push(`- **${f.tag}** \`${f.id}\` (${f.suite}) — ${f.name}`, `  - ${f.message.replace(/\n/g, ' ')}`, `  - reason: ${f.reason || 'UNEXPLAINED'}`)
  }
  md.push('', `## Failing optimal tests (${s.failing_optimal.length})`, '')
  for (const f of s.failing_optimal) md.push(`- **${f.tag}** \`${f.id}\` — ${f.name} — ${f.message.replace(/\n/g, ' ')}`)
  fs.writeFileSync(opt.report, md.join('\n') + '\n')
}
