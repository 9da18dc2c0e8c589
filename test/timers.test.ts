// Unit tier for the sessions' one table of named deadlines.
import t from 'tap';
import { TimerTable } from '../protocol/timers';

type Name = 'idle' | 'heartbeat' | 'check' | 'status';

t.test('an empty table: nothing next, nothing due', async (t) => {
  const tt = new TimerTable<Name>();
  t.equal(tt.next(), Infinity);
  t.same(tt.takeDue(1e12), []);
});

t.test('next is the earliest armed deadline; takeDue returns the due ones earliest first and disarms them', async (t) => {
  const tt = new TimerTable<Name>();
  tt.set('idle', 30); tt.set('heartbeat', 10); tt.set('check', 20);
  t.equal(tt.next(), 10);
  t.same(tt.takeDue(9), [], 'nothing due before the earliest');
  t.same(tt.takeDue(10), ['heartbeat'], 'due at exactly its time');
  t.notOk(tt.isArmed('heartbeat'), 'taken means disarmed');
  t.equal(tt.next(), 20);
  t.same(tt.takeDue(15), [], 'taken once only');
  tt.set('status', 25);
  t.same(tt.takeDue(100), ['check', 'status', 'idle'], 'by deadline, not by the order they were armed');
  t.equal(tt.next(), Infinity);
  t.same(tt.entries(), []);
});

t.test('set moves a deadline either way; setEarliest only brings it forward; cancel disarms', async (t) => {
  const tt = new TimerTable<Name>();
  tt.set('idle', 50);
  tt.set('idle', 80);
  t.equal(tt.get('idle'), 80, 'set moves it later');
  tt.set('idle', 40);
  t.equal(tt.get('idle'), 40, 'and earlier');
  tt.setEarliest('idle', 60);
  t.equal(tt.get('idle'), 40, 'setEarliest does not push it back');
  tt.setEarliest('idle', 30);
  t.equal(tt.get('idle'), 30, 'setEarliest brings it forward');
  tt.setEarliest('check', 70);
  t.equal(tt.get('check'), 70, 'setEarliest arms an unarmed one');
  tt.cancel('idle');
  t.notOk(tt.isArmed('idle'));
  t.equal(tt.get('idle'), undefined);
  t.equal(tt.next(), 70, 'a cancelled deadline is not next');
  t.same(tt.takeDue(1000), ['check'], 'nor due');
  tt.cancel('status'); // cancelling one never armed is harmless
  t.same(tt.entries(), []);
});
