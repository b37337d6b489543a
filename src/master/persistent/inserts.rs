//! Persistent adds waiting for MongoDB, and their answers. Every add made
//! while an insert is in flight goes into the next one, so a burst of
//! `addTask`s (or one `addTasks`) is one `insertMany`; each call is then
//! answered from its own tasks' outcomes.

use crate::error::{Code, CodedError};
use crate::master::requests::{self, NewTask, Origin};
use crate::task::Task;
use std::sync::Arc;

/// One call's persistent tasks.
pub(crate) struct Insert {
    pub(crate) origin: Origin,
    pub(crate) req: u64,
    /// `addTasks`: the answer is every id, in order (`ids`), not one.
    pub(crate) many: bool,
    /// Every id of the call, in order (in-memory ones included).
    pub(crate) ids: Vec<String>,
    /// The persistent ones, with their index in the call.
    pub(crate) tasks: Vec<(usize, NewTask)>,
}

/// An answer to give: who asked, and the JSON of the result or an error.
pub(crate) type Answer = (Origin, u64, Result<String, CodedError>);

impl Insert {
    /// The call's answer, from the outcome of each of its persistent tasks.
    fn answer(&self, outcomes: &[Result<(), CodedError>]) -> Answer {
        let failed = self
            .tasks
            .iter()
            .zip(outcomes)
            .find_map(|((index, new), outcome)| match outcome {
                // A series (repeat) added again under its _id: it is there.
                Err(e) if e.code == Code::DuplicateId && new.task.is_series() => None,
                // An _id made here cannot be taken by anyone else: the
                // driver retried an insert whose answer was lost, and the
                // first try stored it.
                Err(e) if e.code == Code::DuplicateId && new.made_id => None,
                Err(e) => Some((*index, e)),
                Ok(()) => None,
            });
        let op = if self.many { "addTasks" } else { "addTask" };
        let result = match failed {
            Some((index, e)) => Err(requests::at_index(e.clone(), index, self.many).in_call(op)),
            None => Ok(requests::ids_answer(&self.ids, self.many)),
        };
        (self.origin, self.req, result)
    }
}

/// The tasks of every call in `inserts`, in order, for one write.
pub(crate) fn tasks_of(inserts: &[Insert]) -> Vec<Task> {
    inserts
        .iter()
        .flat_map(|i| i.tasks.iter().map(|(_, new)| new.task.clone()))
        .collect()
}

/// The types of the tasks the insert stored (one of a series that was
/// there already is not new).
pub(crate) fn stored(inserts: &[Insert], outcomes: &[Result<(), CodedError>]) -> Vec<Arc<str>> {
    inserts
        .iter()
        .flat_map(|i| i.tasks.iter())
        .zip(outcomes)
        .filter(|((_, new), outcome)| match outcome {
            Ok(()) => true,
            // Stored by a first try whose answer was lost.
            Err(e) => e.code == Code::DuplicateId && new.made_id && !new.task.is_series(),
        })
        .map(|((_, new), _)| new.task.task_type.clone())
        .collect()
}

/// Every call's answer, from the outcomes of `tasks_of(inserts)`.
pub(crate) fn answers(inserts: &[Insert], outcomes: &[Result<(), CodedError>]) -> Vec<Answer> {
    let mut rest = outcomes;
    inserts
        .iter()
        .map(|insert| {
            let (mine, later) = rest.split_at(insert.tasks.len().min(rest.len()));
            rest = later;
            insert.answer(mine)
        })
        .collect()
}
