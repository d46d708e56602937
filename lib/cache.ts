// A small LRU on Map insertion order: the least recently used entry is the first key.

export class TokenCache<V> {
  private readonly max: number
  private readonly map = new Map<string, V>()

  constructor (max: number) {
    this.max = max
  }

  get size (): number {
    return this.map.size
  }

  get (key: string): V | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }

  set (key: string, value: V): void {
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string)
  }

  delete (key: string): void {
    this.map.delete(key)
  }

  clear (): void {
    this.map.clear()
  }
}
