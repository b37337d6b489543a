// The app's task types, declared the way the README shows: an augmentation
// of meteor-cluster's TaskTypes. Compiled with api.ts (augmented/tsconfig.json).
import type { ObjectId } from 'meteor-cluster'

declare module 'meteor-cluster' {
  interface TaskTypes {
    resize: { url: string, width?: number }
    report: { day: Date, ids: ObjectId[], raw?: Buffer, tags: readonly string[], rows: Array<number | undefined> }
    cleanup: Record<string, never>
  }
}
