// Reads one iam-simulate Simulation per line on stdin and prints one JSON
// result per line: {verdict, type, error}. Usage: node driver.cjs NODE_MODULES_PARENT
const path = require('node:path')
const readline = require('node:readline')
const { createRequire } = require('node:module')
const load = createRequire(path.join(path.resolve(process.argv[2]), 'package.json'))
const { runSimulation } = load('@cloud-copilot/iam-simulate')

const rl = readline.createInterface({ input: process.stdin })
const queue = []
let busy = false
async function drain() {
  if (busy) return
  busy = true
  while (queue.length > 0) {
    const line = queue.shift()
    let out
    try {
      const r = await runSimulation(JSON.parse(line), { simulationMode: 'Strict' })
      out = { type: r.resultType, verdict: r.overallResult || null, error: r.errors ? JSON.stringify(r.errors) : null }
    } catch (e) {
      out = { type: 'exception', verdict: null, error: String(e && e.message) }
    }
    process.stdout.write(JSON.stringify(out) + '\n')
  }
  busy = false
}
rl.on('line', (line) => { queue.push(line); drain() })
