import t from 'tap'
t.test('workspace runs TypeScript tests', async (t) => {
  const mod = await import('../src/index.js')
  t.type(mod, 'object')
})
